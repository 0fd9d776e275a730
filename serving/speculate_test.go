package serving

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/runtime"
)

// TestAcceptDraftKeepsTargetDistribution draws a draft token from q, runs
// the acceptance step against p, and checks that the token kept follows p.
func TestAcceptDraftKeepsTargetDistribution(t *testing.T) {
	tests := []struct {
		name string
		p, q []float64
	}{
		{"draft too confident", []float64{0.5, 0.3, 0.2, 0}, []float64{0.9, 0.05, 0.05, 0}},
		{"draft misses a token", []float64{0.1, 0.2, 0.3, 0.4}, []float64{0.4, 0.3, 0.3, 0}},
		{"equal", []float64{0.25, 0.25, 0.25, 0.25}, []float64{0.25, 0.25, 0.25, 0.25}},
	}
	const n = 40000
	for _, tt := range tests {
		sp := runtime.Sampler{Temperature: 1, Rand: rand.New(rand.NewPCG(11, 0))}
		counts := make([]float64, len(tt.p))
		p := make([]float64, len(tt.p))
		for i := 0; i < n; i++ {
			d := sp.Pick(tt.q)
			copy(p, tt.p)
			tok, _ := acceptDraft(&sp, p, tt.q, d)
			counts[tok]++
		}
		for i := range counts {
			if got := counts[i] / n; math.Abs(got-tt.p[i]) > 0.01 {
				t.Errorf("%s: token %d kept %.3f of the time, target probability %.3f", tt.name, i, got, tt.p[i])
			}
		}
	}
}

// speculationMatches checks that greedy decoding with a draft model gives
// the tokens of greedy decoding without one, and returns the acceptance
// rate.
func speculationMatches(t *testing.T, target, draft *runtime.Model, k int, minProb float64) float64 {
	ps := prompts(target, 6, 2, 30, 12)
	gen := []int{20, 7, 1, 13, 25, 9}
	reqs := make([]Request, len(ps))
	for i, p := range ps {
		reqs[i] = Request{Prompt: p, MaxTokens: gen[i]}
	}
	plain, _ := newEngine(t, target, Config{PageSize: 4})
	want := runAll(t, plain, reqs)
	spec, failure := newEngine(t, target, Config{PageSize: 4, Draft: draft, DraftTokens: k, DraftMinProb: minProb})
	got := runAll(t, spec, reqs)
	for i := range reqs {
		if !slices.Equal(got[i].tokens, want[i].tokens) {
			t.Errorf("request %d with %d draft tokens: got %v, want %v", i, k, got[i].tokens, want[i].tokens)
		}
	}
	spec.Close()
	if *failure != nil {
		t.Fatal(*failure)
	}
	if spec.cache.pool.used() != 0 || spec.draft.pool.used() != 0 {
		t.Errorf("pages left in use: %d target, %d draft", spec.cache.pool.used(), spec.draft.pool.used())
	}
	mt := spec.Metrics()
	if mt.DraftProposed == 0 {
		t.Fatal("no draft tokens proposed")
	}
	return float64(mt.Accepted) / float64(mt.DraftProposed)
}

func TestSpeculativeGreedyEqualsPlain(t *testing.T) {
	m := tiny(t)
	for _, k := range []int{1, 4} {
		// The model drafting for itself must have every draft accepted.
		if rate := speculationMatches(t, m, m, k, 0); rate < 0.99 {
			t.Errorf("self-draft with %d tokens: acceptance %.3f", k, rate)
		}
	}
	data := os.Getenv("QTK_DATA")
	if data == "" {
		t.Skip("QTK_DATA not set: small-llama with small-draft skipped")
	}
	target := loadModel(t, filepath.Join(data, "models", "small-llama"))
	draft := loadModel(t, filepath.Join(data, "models", "small-draft"))
	rate := speculationMatches(t, target, draft, 4, 0)
	t.Logf("small-draft for small-llama: acceptance %.3f", rate)
}

func TestSpeculativeSamplingRuns(t *testing.T) {
	m := tiny(t)
	e, failure := newEngine(t, m, Config{PageSize: 4, Draft: m, DraftTokens: 3})
	reqs := []Request{
		{Prompt: []int{5, 6, 7}, MaxTokens: 15, Sampling: Sampling{Temperature: 1, Seed: 1}},
		{Prompt: []int{8, 9}, MaxTokens: 9, Sampling: Sampling{Temperature: 0.7, TopK: 20, Seed: 2}},
	}
	for i, r := range runAll(t, e, reqs) {
		if len(r.tokens) != reqs[i].MaxTokens || r.last.Finish != FinishLength {
			t.Errorf("request %d: %d tokens, final %+v", i, len(r.tokens), r.last)
		}
	}
	e.Close()
	if *failure != nil {
		t.Fatal(*failure)
	}
	if _, err := New(m, Config{Draft: m, StaticBatch: 2}); err == nil {
		t.Error("static batching with a draft was accepted")
	}
}

// TestVerifyGreedy feeds verify target logits whose argmaxes agree with a
// prefix of the drafts and checks the tokens kept and where the caches
// end.
func TestVerifyGreedy(t *testing.T) {
	m := tiny(t)
	vocab := m.Config.VocabSize
	drafted := []int{7, 8, 9}
	tests := []struct {
		name    string
		argmax  []int // of the target's rows: after the last token, then after each draft
		want    []int
		accepts int
	}{
		{"all accepted, plus a bonus token", []int{7, 8, 9, 10}, []int{7, 8, 9, 10}, 3},
		{"second rejected", []int{7, 5, 9, 10}, []int{7, 5}, 1},
		{"first rejected", []int{4, 8, 9, 10}, []int{4}, 0},
	}
	for _, tt := range tests {
		e, _ := newEngine(t, m, Config{PageSize: 4, Draft: m, DraftTokens: 3})
		e.Close() // verify runs here, not on the loop
		s := &sequence{tokens: []int{1, 2, 3, 4, 5}, prompt: 4, drafted: drafted}
		// The target ran the last token and the drafts; the draft cache
		// holds the known tokens and all drafts but the last.
		if !e.cache.reserve(&s.target, 9) || !e.draft.reserve(&s.draft, 7) {
			t.Fatal("no pages")
		}
		s.target.computed, s.draft.computed = 5, 7
		logits := make([]float32, len(tt.argmax)*vocab)
		for i, id := range tt.argmax {
			logits[i*vocab+id] = 1
		}
		got := e.verify(s, logits)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: kept %v, want %v", tt.name, got, tt.want)
		}
		if s.target.computed != 5+tt.accepts || s.draft.computed != min(7, 5+tt.accepts) {
			t.Errorf("%s: caches at %d (target) and %d (draft), want %d and %d", tt.name, s.target.computed, s.draft.computed, 5+tt.accepts, min(7, 5+tt.accepts))
		}
		if mt := e.Metrics(); mt.Accepted != uint64(tt.accepts) || mt.DraftProposed != 3 {
			t.Errorf("%s: metrics %+v", tt.name, mt)
		}
	}
}

// TestRestrictedDraft drafts with tiny-llama restricted to some of its
// tokens: greedy output still equals plain decoding, drafts outside the
// set are never proposed, and sampling runs.
func TestRestrictedDraft(t *testing.T) {
	m := tiny(t)
	ck, err := model.Open(filepath.Join("..", "testdata", "models", "tiny-llama"))
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	var ids []int
	for id := 0; id < m.Config.VocabSize; id += 3 {
		ids = append(ids, id)
	}
	draft, err := m.WithOutputs(compute.CPU, ck, ids)
	if err != nil {
		t.Fatal(err)
	}
	rate := speculationMatches(t, m, draft, 3, 0)
	if rate <= 0 || rate >= 0.99 {
		t.Errorf("acceptance %.3f with a third of the vocabulary: want some drafts rejected, some accepted", rate)
	}
	// Proposing only what the draft is sure of raises the acceptance.
	if sure := speculationMatches(t, m, draft, 3, 0.6); sure <= rate {
		t.Errorf("acceptance %.3f with --draft-min-prob 0.6, %.3f without", sure, rate)
	}
	e, failure := newEngine(t, m, Config{PageSize: 4, Draft: draft, DraftTokens: 2, DraftMinProb: 0.3})
	reqs := []Request{{Prompt: []int{5, 6, 7}, MaxTokens: 12, Sampling: Sampling{Temperature: 0.8, Seed: 3}}}
	if r := runAll(t, e, reqs); len(r[0].tokens) != 12 {
		t.Errorf("sampled %d tokens, want 12", len(r[0].tokens))
	}
	e.Close()
	if *failure != nil {
		t.Fatal(*failure)
	}
}
