package serving

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/qtk-dev/qtk/runtime"
)

// TestRandomWorkloadNeverLeaks runs random requests (sampling, stop
// tokens, shared prefixes, cancellations) through a cache small enough to
// preempt, checking page accounting after every step and that every page
// is back at the end.
func TestRandomWorkloadNeverLeaks(t *testing.T) {
	m := tiny(t)
	pageBytes := runtime.KVPageBytes(m.Config, 4, false)
	e, failure := newEngine(t, m, Config{PageSize: 4, KVMemory: 40 * pageBytes, MaxBatchTokens: 24})
	rng := rand.New(rand.NewPCG(3, 3))
	shared := prompts(m, 1, 12, 12, 9)[0]
	var wg sync.WaitGroup
	var mu sync.Mutex
	finishes := map[string]int{}
	for i, p := range prompts(m, 40, 1, 30, 4) {
		if i%3 == 0 {
			p = slices.Concat(shared, p) // a common prefix of three pages
		}
		req := Request{Prompt: p, MaxTokens: 1 + rng.IntN(24)}
		if i%2 == 1 {
			req.Sampling = Sampling{Temperature: 0.8, TopK: 50, TopP: 0.9, Seed: uint64(i)}
			req.Stop = []int{rng.IntN(m.Config.VocabSize)}
		}
		ctx, cancel := context.WithCancel(context.Background())
		ch, err := e.Submit(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		cancelAfter := -1
		if i%4 == 2 {
			cancelAfter = rng.IntN(4)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cancel()
			n := 0
			for ev := range ch {
				if ev.Done {
					mu.Lock()
					finishes[ev.Finish]++
					mu.Unlock()
					continue
				}
				if n++; n == cancelAfter {
					cancel()
				}
			}
		}()
	}
	wg.Wait()
	e.Close()
	if *failure != nil {
		t.Fatal(*failure)
	}
	if used := e.cache.pool.used(); used != 0 || len(e.cache.pool.prefix) != 0 {
		t.Errorf("%d pages in use and %d indexed after every request ended", used, len(e.cache.pool.prefix))
	}
	mt := e.Metrics()
	if finishes[FinishCancelled] == 0 || mt.Preemptions == 0 {
		t.Errorf("the workload did not exercise cancellation and preemption: finishes %v, metrics %+v", finishes, mt)
	}
	t.Logf("finishes %v, %d preemptions", finishes, mt.Preemptions)
}

// TestPrefixSharing runs identical prompts together: they share the
// prompt's pages (a prompt of whole pages makes the later ones recompute
// its last token, copying the shared page first) and produce the same
// tokens as a State.
func TestPrefixSharing(t *testing.T) {
	m := tiny(t)
	for _, promptLen := range []int{16, 18} {
		prompt := prompts(m, 1, promptLen, promptLen, 5)[0]
		want := greedy(t, m, prompt, 6)
		e, failure := newEngine(t, m, Config{PageSize: 4})
		peak := 0
		check := e.afterStep
		e.afterStep = func() {
			check()
			peak = max(peak, e.cache.pool.used())
		}
		// The first request indexes the prompt's pages before the others
		// arrive.
		first, err := e.Submit(context.Background(), Request{Prompt: prompt, MaxTokens: 6})
		if err != nil {
			t.Fatal(err)
		}
		<-first
		reqs := []Request{{Prompt: prompt, MaxTokens: 6}, {Prompt: prompt, MaxTokens: 6}, {Prompt: prompt, MaxTokens: 6}}
		results := append(runAll(t, e, reqs), collect(first))
		results[3].tokens = append([]int{want[0]}, results[3].tokens...)
		for i, r := range results {
			if !slices.Equal(r.tokens, want) {
				t.Errorf("prompt of %d, request %d: got %v, want %v", promptLen, i, r.tokens, want)
			}
		}
		e.Close()
		if *failure != nil {
			t.Fatal(*failure)
		}
		// Unshared, four sequences of promptLen+6 tokens need 4·7 pages.
		if unshared := 4 * e.cache.pagesFor(promptLen+6); peak >= unshared {
			t.Errorf("prompt of %d: %d pages at peak, no fewer than %d without sharing", promptLen, peak, unshared)
		}
		t.Logf("prompt of %d: %d pages at peak", promptLen, peak)
	}
}

func TestCancelFreesPages(t *testing.T) {
	m := tiny(t)
	e, failure := newEngine(t, m, Config{PageSize: 4})
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := e.Submit(ctx, Request{Prompt: prompts(m, 1, 20, 20, 6)[0], MaxTokens: 500})
	if err != nil {
		t.Fatal(err)
	}
	<-ch
	cancel()
	r := collect(ch)
	if r.last.Finish != FinishCancelled || r.last.Err == nil {
		t.Errorf("final event %+v", r.last)
	}
	e.Close()
	if *failure != nil {
		t.Fatal(*failure)
	}
	if used := e.cache.pool.used(); used != 0 {
		t.Errorf("%d pages in use after cancellation", used)
	}
}

func TestStopToken(t *testing.T) {
	m := tiny(t)
	prompt := prompts(m, 1, 10, 10, 8)[0]
	want := greedy(t, m, prompt, 8)
	e, _ := newEngine(t, m, Config{})
	r := runAll(t, e, []Request{{Prompt: prompt, MaxTokens: 8, Stop: []int{want[3]}}})[0]
	stopAt := slices.Index(want, want[3])
	if !slices.Equal(r.tokens, want[:stopAt]) || r.last.Finish != FinishStop || r.last.Token != want[3] || r.last.CompletionTokens != stopAt+1 {
		t.Errorf("tokens %v, final %+v; want %v then stop token %d", r.tokens, r.last, want[:stopAt], want[3])
	}
}

func TestSubmitRejects(t *testing.T) {
	m := tiny(t)
	pageBytes := runtime.KVPageBytes(m.Config, 4, false)
	e, _ := newEngine(t, m, Config{PageSize: 4, KVMemory: 4 * pageBytes})
	vocab := m.Config.VocabSize
	tests := []struct {
		name string
		req  Request
	}{
		{"empty prompt", Request{}},
		{"bad token", Request{Prompt: []int{vocab}}},
		{"bad stop token", Request{Prompt: []int{1}, Stop: []int{-1}}},
		{"longer than the budget", Request{Prompt: make([]int, 16)}},
		{"longer than the context", Request{Prompt: make([]int, m.Config.MaxPositions)}},
		{"negative temperature", Request{Prompt: []int{1}, Sampling: Sampling{Temperature: -1}}},
		{"top-p above 1", Request{Prompt: []int{1}, Sampling: Sampling{TopP: 1.5}}},
	}
	for _, tt := range tests {
		if _, err := e.Submit(context.Background(), tt.req); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	e.Close()
	if _, err := e.Submit(context.Background(), Request{Prompt: []int{1}}); err == nil {
		t.Error("a closed engine accepted a request")
	}
	if _, err := New(m, Config{KVMemory: 1}); err == nil {
		t.Error("a budget below one page was accepted")
	}
}

// TestInt8Cache runs requests over an int8 cache: its pages are smaller,
// so the same budget holds more of them, and the requests run to their
// lengths with every page returned.
func TestInt8Cache(t *testing.T) {
	m := tiny(t)
	budget := 64 * runtime.KVPageBytes(m.Config, 4, false)
	e, failure := newEngine(t, m, Config{PageSize: 4, KVMemory: budget, Int8KV: true})
	if pages := e.Metrics().KVPages; pages <= 64*3 {
		t.Errorf("an int8 budget of 64 float32 pages holds %d pages", pages)
	}
	reqs := []Request{{Prompt: []int{3, 4, 5}, MaxTokens: 9}, {Prompt: []int{6, 7}, MaxTokens: 5}}
	for i, r := range runAll(t, e, reqs) {
		if len(r.tokens) != reqs[i].MaxTokens || r.last.Finish != FinishLength {
			t.Errorf("request %d: %d tokens, final %+v", i, len(r.tokens), r.last)
		}
	}
	e.Close()
	if *failure != nil || e.cache.pool.used() != 0 {
		t.Errorf("invariants %v, %d pages in use", *failure, e.cache.pool.used())
	}
}
