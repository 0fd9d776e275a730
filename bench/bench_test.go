package bench

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/runtime"
	"github.com/qtk-dev/qtk/serving"
)

func TestWorkloadLengths(t *testing.T) {
	tests := []struct {
		lengths       string
		minMean, maxM float64
		spread        bool
	}{
		{Fixed, 40, 40, false},
		{Uniform, 36, 44, true},
		{Exponential, 34, 44, true}, // the cap at 4x the mean trims it a little
	}
	for _, tt := range tests {
		w := Workload{Requests: 400, PromptLen: 40, GenLen: 40, Lengths: tt.lengths, Seed: 3, Vocab: 100, MaxPositions: 1024}
		reqs, err := w.Build()
		if err != nil {
			t.Fatal(err)
		}
		again, _ := w.Build()
		var sum float64
		lens := map[int]bool{}
		for i, r := range reqs {
			if !slices.Equal(r.Prompt, again[i].Prompt) || r.MaxTokens != again[i].MaxTokens {
				t.Fatalf("%s: request %d differs between builds with one seed", tt.lengths, i)
			}
			if r.MaxTokens < 1 || len(r.Prompt) < 1 || len(r.Prompt)+r.MaxTokens >= w.MaxPositions {
				t.Fatalf("%s: request %d has %d + %d tokens", tt.lengths, i, len(r.Prompt), r.MaxTokens)
			}
			sum += float64(r.MaxTokens)
			lens[r.MaxTokens] = true
		}
		mean := sum / float64(len(reqs))
		if mean < tt.minMean || mean > tt.maxM || (len(lens) > 1) != tt.spread {
			t.Errorf("%s: mean generation length %.1f, %d distinct lengths", tt.lengths, mean, len(lens))
		}
	}
	if _, err := (Workload{Requests: 1, PromptLen: 1, GenLen: 1, Lengths: "normal", Vocab: 10}).Build(); err == nil {
		t.Error("an unknown distribution was accepted")
	}
}

func TestWorkloadText(t *testing.T) {
	text := []int{10, 11, 12, 13, 14}
	w := Workload{Requests: 20, PromptLen: 7, GenLen: 2, Lengths: Fixed, Text: text, MaxPositions: 64}
	reqs, err := w.Build()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		for j := 1; j < len(r.Prompt); j++ {
			if r.Prompt[j] != 10+(r.Prompt[j-1]-10+1)%len(text) {
				t.Fatalf("prompt %v is not a window of the text", r.Prompt)
			}
		}
	}
}

// TestRunCountsEverything runs a small load on the bundled model and
// checks the totals, and that the cache never held much more than the
// tokens in flight.
func TestRunCountsEverything(t *testing.T) {
	ck, err := model.Open(filepath.Join("..", "testdata", "models", "tiny-llama"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := runtime.Load(ck)
	ck.Close()
	if err != nil {
		t.Fatal(err)
	}
	w := Workload{Requests: 12, PromptLen: 20, GenLen: 12, Lengths: Uniform, Seed: 1, Vocab: m.Config.VocabSize, MaxPositions: m.Config.MaxPositions}
	reqs, err := w.Build()
	if err != nil {
		t.Fatal(err)
	}
	e, err := serving.New(m, serving.Config{PageSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	perToken := runtime.KVPageBytes(m.Config, 4, false) / 4
	res, err := Run(context.Background(), e, reqs, Options{Concurrency: 4, BytesPerToken: perToken, MaxPositions: m.Config.MaxPositions})
	if err != nil {
		t.Fatal(err)
	}
	prompt, gen := 0, 0
	for _, r := range reqs {
		prompt += len(r.Prompt)
		gen += r.MaxTokens
	}
	if res.Requests != 12 || res.PromptTokens != prompt || res.GeneratedTokens != gen {
		t.Errorf("counted %d requests, %d + %d tokens; want 12, %d + %d", res.Requests, res.PromptTokens, res.GeneratedTokens, prompt, gen)
	}
	if res.ThroughputTokensPerS <= 0 || res.TTFTms.P50 <= 0 || res.TTFTms.P99 < res.TTFTms.P50 {
		t.Errorf("rates %+v", res)
	}
	if kv := res.KV; kv.Samples > 0 && (kv.UsedOverHeld < 0.8 || kv.UsedOverHeld > 1.6) {
		t.Errorf("cache use %.2fx the tokens held", kv.UsedOverHeld)
	}
	if _, err := Run(context.Background(), e, reqs, Options{}); err == nil {
		t.Error("concurrency 0 was accepted")
	}
}

func TestPercentiles(t *testing.T) {
	xs := make([]float64, 100)
	for i := range xs {
		xs[i] = float64(100 - i)
	}
	if p := percentiles(xs); p.P50 != 50 || p.P99 != 99 {
		t.Errorf("percentiles of 1..100: %+v", p)
	}
	if p := percentiles([]float64{7}); p.P50 != 7 || p.P99 != 7 {
		t.Errorf("percentiles of one value: %+v", p)
	}
}
