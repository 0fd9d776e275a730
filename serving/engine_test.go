package serving

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/runtime"
)

var (
	tinyOnce  sync.Once
	tinyModel *runtime.Model
	tinyErr   error
)

func loadModel(t testing.TB, dir string) *runtime.Model {
	t.Helper()
	ck, err := model.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	m, err := runtime.Load(ck)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func tiny(t testing.TB) *runtime.Model {
	tinyOnce.Do(func() {
		ck, err := model.Open(filepath.Join("..", "testdata", "models", "tiny-llama"))
		if err != nil {
			tinyErr = err
			return
		}
		defer ck.Close()
		tinyModel, tinyErr = runtime.Load(ck)
	})
	if tinyErr != nil {
		t.Fatal(tinyErr)
	}
	return tinyModel
}

// prompts returns n prompts of random tokens with lengths in [min, max].
func prompts(m *runtime.Model, n, minLen, maxLen int, seed uint64) [][]int {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([][]int, n)
	for i := range out {
		p := make([]int, minLen+rng.IntN(maxLen-minLen+1))
		for j := range p {
			p[j] = 1 + rng.IntN(m.Config.VocabSize-1)
		}
		out[i] = p
	}
	return out
}

// greedy is the reference: a State generating n tokens alone.
func greedy(t testing.TB, m *runtime.Model, prompt []int, n int) []int {
	t.Helper()
	out, err := m.NewState(len(prompt)+n).Generate(prompt, n, &runtime.Sampler{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// result is what a sequence's events said.
type result struct {
	tokens []int
	last   Event
}

func collect(ch <-chan Event) result {
	var r result
	for ev := range ch {
		if ev.Done {
			r.last = ev
			continue
		}
		r.tokens = append(r.tokens, ev.Token)
	}
	return r
}

// runAll submits every request at once and waits for all results.
func runAll(t testing.TB, e *Engine, reqs []Request) []result {
	t.Helper()
	chans := make([]<-chan Event, len(reqs))
	for i, r := range reqs {
		ch, err := e.Submit(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		chans[i] = ch
	}
	out := make([]result, len(reqs))
	for i, ch := range chans {
		out[i] = collect(ch)
	}
	return out
}

// checkInvariants verifies the page accounting of a cache against the
// sequences holding pages: every page's reference count equals the number
// of block tables that hold it, free pages are unreferenced, and indexed
// pages are in use.
func checkInvariants(c *pagedCache, seqs []*sequence, table func(*sequence) *blockTable) error {
	held := make([]int, c.pool.size())
	for _, s := range seqs {
		bt := table(s)
		if bt.computed > len(bt.pages)*c.pageSize {
			return fmt.Errorf("a sequence has %d positions computed in %d pages", bt.computed, len(bt.pages))
		}
		for _, id := range bt.pages {
			held[id]++
		}
	}
	free := make([]bool, c.pool.size())
	for _, id := range c.pool.free {
		if free[id] {
			return fmt.Errorf("page %d is free twice", id)
		}
		free[id] = true
	}
	for id, n := range held {
		switch {
		case c.pool.refs[id] != n:
			return fmt.Errorf("page %d has %d references but %d holders", id, c.pool.refs[id], n)
		case free[id] == (n > 0):
			return fmt.Errorf("page %d: free %v with %d holders", id, free[id], n)
		case free[id] && c.pool.content[id] != nil:
			return fmt.Errorf("free page %d is still indexed", id)
		}
	}
	if len(c.pool.prefix) > c.pool.used() {
		return fmt.Errorf("%d indexed pages but %d in use", len(c.pool.prefix), c.pool.used())
	}
	return nil
}

// watch checks the invariants of both caches after every step.
func watch(t *testing.T, e *Engine) *error {
	var failure error
	e.afterStep = func() {
		if failure != nil {
			return
		}
		seqs := slices.Concat(e.running, e.waiting)
		failure = checkInvariants(e.cache, seqs, func(s *sequence) *blockTable { return &s.target })
		if failure == nil && e.draft != nil {
			failure = checkInvariants(e.draft, seqs, func(s *sequence) *blockTable { return &s.draft })
		}
	}
	return &failure
}

// newEngine starts an engine that the test closes, with invariant checks
// after every step.
func newEngine(t *testing.T, m *runtime.Model, cfg Config) (*Engine, *error) {
	t.Helper()
	e, err := New(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Set the hook before the loop can step: nothing is queued yet.
	failure := watch(t, e)
	t.Cleanup(e.Close)
	return e, failure
}

// TestEngineMatchesGenerate runs concurrent greedy requests through
// several cache and batch configurations and compares each with a State
// generating alone.
func TestEngineMatchesGenerate(t *testing.T) {
	m := tiny(t)
	ps := prompts(m, 8, 1, 40, 1)
	want := make([][]int, len(ps))
	gen := []int{12, 3, 20, 1, 8, 16, 5, 10}
	for i, p := range ps {
		want[i] = greedy(t, m, p, gen[i])
	}
	pageBytes := runtime.KVPageBytes(m.Config, 4, false)
	tests := []struct {
		name        string
		cfg         Config
		wantPreempt bool
	}{
		{"defaults", Config{}, false},
		{"small pages, chunked prefill", Config{PageSize: 4, MaxBatchTokens: 16}, false},
		{"budget forces preemption", Config{PageSize: 4, KVMemory: 20 * pageBytes, MaxBatchTokens: 32}, true},
		{"one sequence per step", Config{PageSize: 8, MaxRunning: 1}, false},
		{"static batches", Config{StaticBatch: 3}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, failure := newEngine(t, m, tt.cfg)
			reqs := make([]Request, len(ps))
			for i, p := range ps {
				reqs[i] = Request{Prompt: p, MaxTokens: gen[i]}
			}
			for i, r := range runAll(t, e, reqs) {
				if !slices.Equal(r.tokens, want[i]) {
					t.Errorf("request %d: got %v, want %v", i, r.tokens, want[i])
				}
				if r.last.Finish != FinishLength || r.last.CompletionTokens != gen[i] || r.last.PromptTokens != len(ps[i]) {
					t.Errorf("request %d: final event %+v", i, r.last)
				}
			}
			e.Close()
			if *failure != nil {
				t.Fatal(*failure)
			}
			if used := e.cache.pool.used(); used != 0 {
				t.Errorf("%d pages still in use after every request ended", used)
			}
			mt := e.Metrics()
			if mt.RequestsFinished != uint64(len(ps)) || mt.Running+mt.Waiting != 0 || mt.KVPagesUsed != 0 {
				t.Errorf("metrics after the run: %+v", mt)
			}
			if tt.wantPreempt != (mt.Preemptions > 0) {
				t.Errorf("%d preemptions", mt.Preemptions)
			}
		})
	}
}
