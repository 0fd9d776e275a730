package calibrate

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/runtime"
)

func TestWindows(t *testing.T) {
	tokens := make([]int, 1000)
	for i := range tokens {
		tokens[i] = i
	}
	a, err := Windows(tokens, Options{Samples: 16, SeqLen: 100, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Windows(tokens, Options{Samples: 16, SeqLen: 100, Seed: 3})
	c, _ := Windows(tokens, Options{Samples: 16, SeqLen: 100, Seed: 4})
	if len(a) != 16 {
		t.Fatalf("%d windows", len(a))
	}
	sameAsOtherSeed := true
	for i, w := range a {
		// Windows are runs of consecutive tokens inside the text.
		if len(w) != 100 || w[99]-w[0] != 99 || w[0] < 0 || w[99] >= 1000 {
			t.Fatalf("window %d: %v..%v", i, w[0], w[len(w)-1])
		}
		if !slices.Equal(w, b[i]) {
			t.Fatal("same seed, different windows")
		}
		sameAsOtherSeed = sameAsOtherSeed && slices.Equal(w, c[i])
	}
	if sameAsOtherSeed {
		t.Fatal("another seed drew the same windows")
	}
	// Exactly one window's worth of tokens is enough.
	if _, err := Windows(tokens[:100], Options{Samples: 2, SeqLen: 100}); err != nil {
		t.Fatal(err)
	}
	if _, err := Windows(tokens[:99], Options{Samples: 2, SeqLen: 100}); !errors.Is(err, ErrTooShort) {
		t.Fatalf("error %v, want ErrTooShort", err)
	}
	if _, err := Windows(tokens, Options{Samples: -1, SeqLen: 100}); err == nil {
		t.Fatal("negative sample count accepted")
	}
	if d, _ := Windows(make([]int, 600), Options{}); len(d) != 128 || len(d[0]) != 512 {
		t.Fatalf("defaults gave %d × %d", len(d), len(d[0]))
	}
}

func TestReadText(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content, want string
	}{
		{"empty", "", "empty"},
		{"binary", "\xff\xfe", "not UTF-8"},
		{"text", "hello", ""},
	}
	for _, tt := range tests {
		path := filepath.Join(dir, tt.name)
		os.WriteFile(path, []byte(tt.content), 0o644)
		text, err := ReadText(path)
		if tt.want == "" {
			if err != nil || text != tt.content {
				t.Errorf("%s: %q, %v", tt.name, text, err)
			}
		} else if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}

// TestObserveAndAdvance: observing leaves the activations as they are;
// advancing through every layer and the head gives the model's logits.
func TestObserveAndAdvance(t *testing.T) {
	ck, err := model.Open(filepath.Join("..", "testdata", "models", "tiny-llama"))
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	window := []int{362, 2884, 284, 263, 2321, 433, 263, 2321}
	acts, err := Embed(ck, [][]int{window})
	if err != nil {
		t.Fatal(err)
	}
	if acts.Tokens() != len(window) {
		t.Fatalf("Tokens() = %d", acts.Tokens())
	}
	m, err := runtime.Load(ck)
	if err != nil {
		t.Fatal(err)
	}
	before := slices.Clone(acts.X[0])
	for l := 0; l < ck.Config.NumLayers; l++ {
		w, err := runtime.ReadLayer(ck, l)
		if err != nil {
			t.Fatal(err)
		}
		ly := runtime.NewLayer(ck.Config, w)
		rows := 0
		if err := acts.Observe(ly, &runtime.Hooks{DownIn: func(_ []float32, n int) { rows += n }}); err != nil {
			t.Fatal(err)
		}
		if rows != len(window) || !slices.Equal(before, acts.X[0]) {
			t.Fatalf("layer %d: Observe saw %d rows or changed the activations", l, rows)
		}
		if err := acts.Advance(ly); err != nil {
			t.Fatal(err)
		}
		before = slices.Clone(acts.X[0])
	}
	vocab := ck.Config.VocabSize
	got := make([]float32, len(window)*vocab)
	m.Logits(got, acts.X[0], len(window))
	want := make([]float32, len(window)*vocab)
	if err := m.NewState(len(window)).Forward(window, 0, want); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if d := got[i] - want[i]; d > 1e-4 || d < -1e-4 {
			t.Fatalf("logit %d: layer walk %g, forward %g", i, got[i], want[i])
		}
	}
	if _, err := Embed(ck, [][]int{{ck.Config.VocabSize}}); err == nil {
		t.Fatal("out-of-vocabulary id accepted")
	}
}

// TestPartialObserve: a partial pass that stops after one hook gives that
// hook the same inputs as a full pass.
func TestPartialObserve(t *testing.T) {
	ck, err := model.Open(filepath.Join("..", "testdata", "models", "tiny-llama"))
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	acts, err := Embed(ck, [][]int{{362, 2884, 284, 263, 2321, 433}})
	if err != nil {
		t.Fatal(err)
	}
	w, err := runtime.ReadLayer(ck, 0)
	if err != nil {
		t.Fatal(err)
	}
	ly := runtime.NewLayer(ck.Config, w)
	record := func(dst *[]float32) func([]float32, int) {
		return func(x []float32, _ int) { *dst = slices.Clone(x) }
	}
	var full [4][]float32
	if err := acts.Observe(ly, &runtime.Hooks{QKVIn: record(&full[0]), OIn: record(&full[1]), MLPIn: record(&full[2]), DownIn: record(&full[3])}); err != nil {
		t.Fatal(err)
	}
	for site, name := range []string{"qkv", "o", "mlp", "down"} {
		t.Run(name, func(t *testing.T) {
			var got []float32
			hooks := &runtime.Hooks{Partial: true}
			*[]*func([]float32, int){&hooks.QKVIn, &hooks.OIn, &hooks.MLPIn, &hooks.DownIn}[site] = record(&got)
			if err := acts.Observe(ly, hooks); err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 || !slices.Equal(got, full[site]) {
				t.Errorf("partial pass saw %d values, different from the full pass's %d", len(got), len(full[site]))
			}
		})
	}
}
