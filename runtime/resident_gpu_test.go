package runtime

import (
	"path/filepath"
	"testing"

	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/model"
)

// loadOnGPU loads tiny-llama on GPU 0 when its backend runs whole layers,
// and skips the test otherwise.
func loadOnGPU(t testing.TB) (*Model, reference) {
	t.Helper()
	be, err := compute.OpenCUDA(0)
	if err != nil {
		t.Skipf("no GPU: %v", err)
	}
	t.Cleanup(be.Close)
	if _, ok := be.(compute.Resident); !ok {
		t.Skip("the GPU backend does not run whole layers")
	}
	dir := filepath.Join("..", "testdata", "models", "tiny-llama")
	_, ref := loadForTest(t, dir)
	ck, err := model.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	m, err := LoadOn(be, ck)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Resident() {
		t.Fatal("tiny-llama loaded on the GPU is not resident")
	}
	return m, ref
}

// TestResidentStateOnGPU checks the whole forward pass on the GPU against
// the CPU State (its head rounded to float16 as the GPU's), and its greedy
// continuation against transformers'.
func TestResidentStateOnGPU(t *testing.T) {
	dev, ref := loadOnGPU(t)
	ck, err := model.Open(filepath.Join("..", "testdata", "models", "tiny-llama"))
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	cpu, err := LoadOn(halfCPU{compute.CPU}, ck)
	if err != nil {
		t.Fatal(err)
	}
	checkAgainstState(t, cpu, dev, ref, 2e-3)
	checkGreedy(t, dev, ref)
}

// BenchmarkResidentDecodeStep times one decode step of tiny-llama on the
// GPU, a model so small that the time is the step's fixed cost: launches,
// hand-offs to the device goroutine, synchronizations and copies.
func BenchmarkResidentDecodeStep(b *testing.B) {
	dev, ref := loadOnGPU(b)
	ids := ref.Logits[0].IDs
	s, err := dev.NewResidentState(len(ids) + 1)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Release()
	logits := make([]float32, dev.Config.VocabSize)
	next := []int{ids[len(ids)-1]}
	if err := s.Forward(ids[:len(ids)-1], len(ids)-1, nil); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := s.Forward(next, 0, logits); err != nil {
			b.Fatal(err)
		}
		s.length-- // decode at the same position again
	}
}
