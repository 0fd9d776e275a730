package synth

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/runtime"
	"github.com/qtk-dev/qtk/tokenizer"
)

// TestWriteTiny writes the tiny shape and loads it back: the config
// parses to the shape, the tokenizer round-trips text, the runtime runs
// it, and the same seed gives the same bytes.
func TestWriteTiny(t *testing.T) {
	dir := t.TempDir()
	s := Shapes["tiny"]
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	// A small shard cap, so the checkpoint is sharded with an index.
	opts := Options{Seed: 7, MaxShardBytes: 100_000}
	for _, d := range []string{a, b} {
		if err := Write(d, s, opts); err != nil {
			t.Fatal(err)
		}
	}
	ck, err := model.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	c := ck.Config
	if c.HiddenSize != s.Hidden || c.IntermediateSize != s.Intermediate || c.NumLayers != s.Layers ||
		c.NumHeads != s.Heads || c.NumKVHeads != s.KVHeads || c.VocabSize != s.Vocab {
		t.Errorf("config %+v does not match shape %+v", c, s)
	}
	if _, err := os.Stat(filepath.Join(a, "model.safetensors.index.json")); err != nil {
		t.Errorf("not sharded: %v", err)
	}
	tok, err := tokenizer.Load(ck.TokenizerPath())
	if err != nil {
		t.Fatal(err)
	}
	const text = "Hello, wörld! 123\n"
	ids := tok.Encode(text, true)
	if len(ids) != len(text)+1 || ids[0] != bosID {
		t.Errorf("ids %v: want BOS and one token per byte", ids)
	}
	if got := tok.Decode(ids, true); got != text {
		t.Errorf("decode %q, want %q", got, text)
	}
	m, err := runtime.Load(ck)
	if err != nil {
		t.Fatal(err)
	}
	st := m.NewState(len(ids))
	logits := make([]float32, c.VocabSize)
	if err := st.Forward(ids, len(ids)-1, logits); err != nil {
		t.Fatal(err)
	}
	for i, v := range logits {
		if v != v || v == 0 {
			t.Fatalf("logit %d is %v", i, v)
		}
	}
	files, _ := filepath.Glob(filepath.Join(a, "*"))
	for _, f := range files {
		x, _ := os.ReadFile(f)
		y, err := os.ReadFile(filepath.Join(b, filepath.Base(f)))
		if err != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs with one seed (%v)", filepath.Base(f), err)
		}
	}
}

func TestWriteRefuses(t *testing.T) {
	dir := t.TempDir()
	small := Shapes["tiny"]
	small.Vocab = 100
	for _, tc := range []struct {
		name string
		dir  string
		s    Shape
		opts Options
		want string
	}{
		{"existing dir", dir, Shapes["tiny"], Options{}, "exists"},
		{"negative layers", filepath.Join(dir, "x"), Shapes["tiny"], Options{Layers: -1}, "layers"},
		{"vocabulary too small", filepath.Join(dir, "y"), small, Options{}, "vocabulary"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Write(tc.dir, tc.s, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := Lookup("gpt-5"); err == nil || !strings.Contains(err.Error(), "llama-2-7b") {
		t.Errorf("Lookup of an unknown shape: %v", err)
	}
}
