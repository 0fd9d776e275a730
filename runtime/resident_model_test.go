package runtime

import (
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/qtk-dev/qtk/model"
)

// loadResident loads tiny-llama on the CPU and on the fake resident
// backend.
func loadResident(t *testing.T) (cpu, dev *Model, fake *fakeResident, ref reference) {
	t.Helper()
	dir := filepath.Join("..", "testdata", "models", "tiny-llama")
	cpu, ref = loadForTest(t, dir)
	ck, err := model.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	fake = newFakeResident()
	if dev, err = LoadOn(fake, ck); err != nil {
		t.Fatal(err)
	}
	if !dev.Resident() || cpu.Resident() {
		t.Fatalf("Resident() = %v on the fake, %v on the CPU", dev.Resident(), cpu.Resident())
	}
	return cpu, dev, fake, ref
}

func worstDiff(a, b []float32) float64 {
	worst := 0.0
	for i := range a {
		worst = max(worst, math.Abs(float64(a[i]-b[i])))
	}
	return worst
}

// TestResidentMatchesState runs prompts whole, in chunks, and one token at
// a time on the resident path, and compares every row of logits with the
// CPU State's.
func TestResidentMatchesState(t *testing.T) {
	cpu, dev, _, ref := loadResident(t)
	checkAgainstState(t, cpu, dev, ref, 1e-4)
}

// checkAgainstState compares the logits of dev's ResidentStates, fed in
// several ways, with those of cpu's State, within tol.
func checkAgainstState(t *testing.T, cpu, dev *Model, ref reference, tol float64) {
	vocab := cpu.Config.VocabSize
	ids := slices.Concat(ref.Logits[0].IDs, ref.Logits[1].IDs)
	want := make([]float32, len(ids)*vocab)
	if err := cpu.NewState(len(ids)).Forward(ids, 0, want); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		chunk int   // tokens per step of the state
		calls []int // tokens per Forward call
		from  int   // logitsFrom of the first call (later calls: 0)
		spare int   // positions of the cache past the tokens
	}{
		{"whole", prefillChunk, []int{len(ids)}, 0, 0},
		{"chunked by the state", 3, []int{len(ids)}, 0, 0},
		{"logits of the second half", 4, []int{len(ids)}, len(ids) / 2, 0},
		{"prefill then decode", prefillChunk, append([]int{5}, slices.Repeat([]int{1}, len(ids)-5)...), 0, 0},
		// A long cache splits a decode's keys over several blocks.
		{"prefill then decode, long cache", prefillChunk, append([]int{5}, slices.Repeat([]int{1}, len(ids)-5)...), 0, 300},
		{"prefill without logits, then chunks", 2, []int{7, 1, len(ids) - 8}, 7, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := dev.newResidentState(len(ids)+tt.spare, tt.chunk)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Release()
			got := make([]float32, len(ids)*vocab)
			at := 0
			for i, n := range tt.calls {
				from := 0
				if i == 0 {
					from = tt.from
				}
				if err := s.Forward(ids[at:at+n], from, got[(at+from)*vocab:]); err != nil {
					t.Fatal(err)
				}
				at += n
			}
			if s.Len() != len(ids) {
				t.Errorf("Len %d, want %d", s.Len(), len(ids))
			}
			from := tt.from * vocab
			if d := worstDiff(got[from:], want[from:]); d > tol {
				t.Errorf("worst logit difference from the CPU state %.3g, want ≤ %g", d, tol)
			} else {
				t.Logf("worst logit difference from the CPU state %.3g", d)
			}
		})
	}
}

// TestResidentGreedyMatchesReference decodes 32 tokens greedily on the
// resident path and compares them with transformers' continuation.
func TestResidentGreedyMatchesReference(t *testing.T) {
	_, dev, _, ref := loadResident(t)
	checkGreedy(t, dev, ref)
}

func checkGreedy(t *testing.T, dev *Model, ref reference) {
	for _, p := range ref.Logits {
		seq, err := dev.NewSequence(len(p.IDs) + 32)
		if err != nil {
			t.Fatal(err)
		}
		s, ok := seq.(*ResidentState)
		if !ok {
			t.Fatalf("NewSequence of a resident model gave a %T", seq)
		}
		got, err := s.Generate(p.IDs, 32, &Sampler{}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, p.Greedy32) {
			t.Errorf("%q:\n got %v\nwant %v", p.Prompt, got, p.Greedy32)
		}
		s.Release()
	}
}

// TestResidentDecodeStepTraffic checks that a decode step allocates no
// device memory, runs as one recorded step and moves one embedding in and
// one row of logits (with its hidden state) out.
func TestResidentDecodeStepTraffic(t *testing.T) {
	_, dev, fake, ref := loadResident(t)
	ids := ref.Logits[0].IDs
	s, err := dev.NewResidentState(len(ids) + 1)
	if err != nil {
		t.Fatal(err)
	}
	logits := make([]float32, dev.Config.VocabSize)
	if err := s.Forward(ids, len(ids)-1, logits); err != nil {
		t.Fatal(err)
	}
	fake.calls = fakeCalls{}
	if err := s.Forward([]int{Argmax(logits)}, 0, logits); err != nil {
		t.Fatal(err)
	}
	want := fakeCalls{uploads: 1, downloads: 2, steps: 1, layers: dev.Config.NumLayers, heads: 1}
	if fake.calls != want {
		t.Errorf("a decode step made %+v, want %+v", fake.calls, want)
	}
}

func TestResidentForwardErrors(t *testing.T) {
	cpu, dev, _, _ := loadResident(t)
	vocab := dev.Config.VocabSize
	s, err := dev.NewResidentState(4)
	if err != nil {
		t.Fatal(err)
	}
	checkForwardRejects(t, s, vocab)
	if _, err := cpu.NewResidentState(4); err == nil {
		t.Error("a resident state of a CPU model: no error")
	}
	if _, err := dev.NewResidentState(0); err == nil {
		t.Error("a resident state of no positions: no error")
	}
}
