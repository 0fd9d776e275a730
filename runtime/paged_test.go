package runtime

import (
	"math"
	"path/filepath"
	"testing"
)

// stateLogits returns the logits of every position of ids from a State.
func stateLogits(t *testing.T, m *Model, ids []int) []float32 {
	t.Helper()
	out := make([]float32, len(ids)*m.Config.VocabSize)
	if err := m.NewState(len(ids)).Forward(ids, 0, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPagedMatchesState runs two sequences through a PagedRunner in
// chunks that mix them in one batch, over scattered pages, and compares
// every row of logits with a State's.
func TestPagedMatchesState(t *testing.T) {
	m, ref := loadForTest(t, filepath.Join("..", "testdata", "models", "tiny-llama"))
	vocab := m.Config.VocabSize
	a, b := ref.Logits[1].IDs, ref.Logits[0].IDs
	wantA, wantB := stateLogits(t, m, a), stateLogits(t, m, b)
	tests := []struct {
		name      string
		pageSize  int
		quantized bool
		tol       float64
	}{
		{"float32 pages of 4", 4, false, 1e-4},
		{"float32 pages of 16", 16, false, 1e-4},
		{"int8 pages of 4", 4, true, 0.5}, // int8 rounding of keys and values
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kv, err := m.NewKVPages(tt.pageSize, 64, tt.quantized)
			if err != nil {
				t.Fatal(err)
			}
			r := m.NewPagedRunner(kv)
			// Interleaved page ids so no sequence's pages are contiguous.
			pagesA, pagesB := []int{}, []int{}
			for i := 0; i < 20; i++ {
				pagesA = append(pagesA, 2*i+1)
				pagesB = append(pagesB, 40-2*i)
			}
			half := len(a) / 2
			steps := [][]SeqChunk{
				{{Tokens: a[:half], Pos: 0, Pages: pagesA, Logits: half}},
				{{Tokens: b, Pos: 0, Pages: pagesB, Logits: len(b)}, {Tokens: a[half:], Pos: half, Pages: pagesA, Logits: len(a) - half}},
			}
			var gotA, gotB []float32
			for i, chunks := range steps {
				rows := 0
				for _, c := range chunks {
					rows += c.Logits
				}
				logits := make([]float32, rows*vocab)
				if err := r.Forward(chunks, logits); err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					gotA = logits
				} else {
					gotB = logits[:len(b)*vocab]
					gotA = append(gotA, logits[len(b)*vocab:]...)
				}
			}
			for _, cmp := range []struct {
				name      string
				got, want []float32
			}{{"a", gotA, wantA}, {"b", gotB, wantB}} {
				worst := 0.0
				for i := range cmp.want {
					worst = max(worst, math.Abs(float64(cmp.got[i]-cmp.want[i])))
				}
				if worst > tt.tol {
					t.Errorf("sequence %s: logits differ from a State's by up to %g (tolerance %g)", cmp.name, worst, tt.tol)
				}
				t.Logf("sequence %s: largest difference %g", cmp.name, worst)
			}
		})
	}
}

func TestPagedForwardErrors(t *testing.T) {
	m, _ := loadForTest(t, filepath.Join("..", "testdata", "models", "tiny-llama"))
	kv, err := m.NewKVPages(4, 4, false)
	if err != nil {
		t.Fatal(err)
	}
	r := m.NewPagedRunner(kv)
	vocab := m.Config.VocabSize
	tests := []struct {
		name  string
		chunk SeqChunk
	}{
		{"no tokens", SeqChunk{Pages: []int{0}}},
		{"too few pages", SeqChunk{Tokens: []int{1, 2, 3, 4, 5}, Pages: []int{0}}},
		{"page out of range", SeqChunk{Tokens: []int{1}, Pages: []int{4}}},
		{"bad id", SeqChunk{Tokens: []int{vocab}, Pages: []int{0}}},
		{"too many logits", SeqChunk{Tokens: []int{1}, Pages: []int{0}, Logits: 2}},
		{"beyond the context", SeqChunk{Tokens: []int{1}, Pos: m.Config.MaxPositions, Pages: make([]int, m.Config.MaxPositions/4+1)}},
	}
	for _, tt := range tests {
		if err := r.Forward([]SeqChunk{tt.chunk}, make([]float32, 2*vocab)); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	if _, err := m.NewKVPages(0, 4, false); err == nil {
		t.Error("page size 0: no error")
	}
}
