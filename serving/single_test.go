package serving

import (
	"context"
	"slices"
	"testing"
)

// TestSingleMatchesGenerate runs requests submitted together through
// Single and compares each with a State generating alone.
func TestSingleMatchesGenerate(t *testing.T) {
	m := tiny(t)
	s, err := NewSingle(m, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ps := prompts(m, 3, 4, 20, 7)
	var chans []<-chan Event
	for _, p := range ps {
		ch, err := s.Submit(context.Background(), Request{Prompt: p, MaxTokens: 12})
		if err != nil {
			t.Fatal(err)
		}
		chans = append(chans, ch)
	}
	for i, ch := range chans {
		got := collect(ch)
		if want := greedy(t, m, ps[i], 12); !slices.Equal(got.tokens, want) {
			t.Errorf("request %d:\n got %v\nwant %v", i, got.tokens, want)
		}
		if got.last.Finish != FinishLength || got.last.PromptTokens != len(ps[i]) || got.last.CompletionTokens != 12 {
			t.Errorf("request %d: final event %+v", i, got.last)
		}
	}
	mt := s.Metrics()
	if mt.RequestsFinished != 3 || mt.GeneratedTokens != 36 || mt.Running != 0 || mt.Waiting != 0 {
		t.Errorf("metrics %+v", mt)
	}
}

func TestSingleStopAndLimits(t *testing.T) {
	m := tiny(t)
	s, err := NewSingle(m, 24)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := prompts(m, 1, 8, 8, 3)[0]
	want := greedy(t, m, p, 16)

	stop := want[2]
	got := collect(mustSubmit(t, s, context.Background(), Request{Prompt: p, MaxTokens: 10, Stop: []int{stop}}))
	n := slices.Index(want, stop)
	if !slices.Equal(got.tokens, want[:n]) || got.last.Finish != FinishStop || got.last.Token != stop || got.last.CompletionTokens != n+1 {
		t.Errorf("stop at %d: tokens %v, final %+v; greedy %v", stop, got.tokens, got.last, want)
	}
	// No MaxTokens: the context of 24 ends the generation.
	got = collect(mustSubmit(t, s, context.Background(), Request{Prompt: p}))
	if !slices.Equal(got.tokens, want[:16]) || got.last.Finish != FinishLength {
		t.Errorf("to the end of the context: tokens %v, final %+v; greedy %v", got.tokens, got.last, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got = collect(mustSubmit(t, s, ctx, Request{Prompt: p, MaxTokens: 4})); got.last.Finish != FinishCancelled {
		t.Errorf("cancelled: final %+v", got.last)
	}
	for _, bad := range []Request{
		{},
		{Prompt: make([]int, 24)},
		{Prompt: []int{m.Config.VocabSize}},
		{Prompt: p, Sampling: Sampling{TopP: 2}},
	} {
		if _, err := s.Submit(context.Background(), bad); err == nil {
			t.Errorf("request %+v: no error", bad)
		}
	}
	s.Close()
	if _, err := s.Submit(context.Background(), Request{Prompt: p}); err == nil {
		t.Error("submit after Close: no error")
	}
}

func TestSingleSamplingIsSeeded(t *testing.T) {
	m := tiny(t)
	s, err := NewSingle(m, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := prompts(m, 1, 8, 8, 5)[0]
	req := Request{Prompt: p, MaxTokens: 16, Sampling: Sampling{Temperature: 1.5, Seed: 9}}
	a, b := collect(mustSubmit(t, s, context.Background(), req)), collect(mustSubmit(t, s, context.Background(), req))
	if !slices.Equal(a.tokens, b.tokens) || len(a.tokens) != 16 {
		t.Errorf("same seed, different tokens:\n%v\n%v", a.tokens, b.tokens)
	}
	if slices.Equal(a.tokens, greedy(t, m, p, 16)) {
		t.Error("sampling at temperature 1.5 gave the greedy tokens")
	}
}

func mustSubmit(t *testing.T, s *Single, ctx context.Context, req Request) <-chan Event {
	t.Helper()
	ch, err := s.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}
