package runtime

import (
	"path/filepath"
	"testing"

	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/model"
)

// TestWithOutputs: a restricted output layer gives the full model's logits
// of its tokens, column for column.
func TestWithOutputs(t *testing.T) {
	dir := filepath.Join("..", "testdata", "models", "tiny-llama")
	m, _ := loadForTest(t, dir)
	ck, err := model.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	vocab := m.Config.VocabSize
	tokens := []int{1, 50, 300, 7}
	full := make([]float32, len(tokens)*vocab)
	if err := m.NewState(16).Forward(tokens, 0, full); err != nil {
		t.Fatal(err)
	}
	ids := []int{vocab - 1, 0, 42, 1000, 77}
	r, err := m.WithOutputs(compute.CPU, ck, ids)
	if err != nil {
		t.Fatal(err)
	}
	if r.OutputSize() != len(ids) || m.OutputSize() != vocab {
		t.Fatalf("output sizes %d and %d, want %d and %d", r.OutputSize(), m.OutputSize(), len(ids), vocab)
	}
	got := make([]float32, len(tokens)*len(ids))
	if err := r.NewState(16).Forward(tokens, 0, got); err != nil {
		t.Fatal(err)
	}
	for row := range tokens {
		for j, id := range ids {
			if r.OutputID(j) != id {
				t.Fatalf("OutputID(%d) = %d, want %d", j, r.OutputID(j), id)
			}
			want, have := full[row*vocab+id], got[row*len(ids)+j]
			if diff := want - have; diff > 1e-4 || diff < -1e-4 {
				t.Errorf("token %d, logit of %d: %g, full model %g", row, id, have, want)
			}
		}
	}
	for _, bad := range [][]int{nil, {vocab}, {-1}} {
		if _, err := m.WithOutputs(compute.CPU, ck, bad); err == nil {
			t.Errorf("ids %v accepted", bad)
		}
	}
}
