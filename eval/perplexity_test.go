package eval

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/runtime"
	"github.com/qtk-dev/qtk/tokenizer"
)

func load(t testing.TB, dir string) (*runtime.Model, *tokenizer.Tokenizer) {
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
	tok, err := tokenizer.Load(ck.TokenizerPath())
	if err != nil {
		t.Fatal(err)
	}
	return m, tok
}

func readTokens(t testing.TB, tok *tokenizer.Tokenizer, path string) []int {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return tok.Encode(string(text), true)
}

// naiveNLL scores one window from full logits with float64 log-softmax.
func naiveNLL(t *testing.T, m *runtime.Model, window []int, first int) float64 {
	vocab := m.Config.VocabSize
	logits := make([]float32, len(window)*vocab)
	if err := m.NewState(len(window)).Forward(window, 0, logits); err != nil {
		t.Fatal(err)
	}
	var nll float64
	for j := first; j < len(window)-1; j++ {
		row := logits[j*vocab : (j+1)*vocab]
		var sum float64
		for _, v := range row {
			sum += math.Exp(float64(v))
		}
		nll += math.Log(sum) - float64(row[window[j+1]])
	}
	return nll
}

func TestPerplexityProtocols(t *testing.T) {
	m, tok := load(t, filepath.Join("..", "testdata", "models", "tiny-llama"))
	tokens := readTokens(t, tok, filepath.Join("..", "testdata", "text", "wiki.test.excerpt.raw"))
	const ctx, windows = 64, 3
	const bos = 0
	tests := []struct {
		protocol Protocol
		addBOS   bool
		first    int
	}{
		{ProtocolHF, false, 0},
		{ProtocolLlamaCpp, false, ctx / 2},
		{ProtocolLlamaCpp, true, ctx / 2},
	}
	for _, tt := range tests {
		res, err := Perplexity(m, tokens, Options{Protocol: tt.protocol, Ctx: ctx, MaxWindows: windows, BOS: bos, AddBOS: tt.addBOS})
		if err != nil {
			t.Fatal(err)
		}
		wantScored := windows * (ctx - 1 - tt.first)
		if res.Windows != windows || res.TokensScored != wantScored {
			t.Errorf("%s: %d windows, %d scored; want %d, %d", tt.protocol, res.Windows, res.TokensScored, windows, wantScored)
		}
		var nll float64
		for w := 0; w < windows; w++ {
			window := append([]int(nil), tokens[w*ctx:(w+1)*ctx]...)
			if tt.addBOS {
				window[0] = bos
			}
			nll += naiveNLL(t, m, window, tt.first)
		}
		want := math.Exp(nll / float64(wantScored))
		if math.Abs(res.PPL-want)/want > 1e-5 {
			t.Errorf("%s (bos %v): ppl %.6f, direct computation %.6f", tt.protocol, tt.addBOS, res.PPL, want)
		}
	}
}

func TestPerplexityErrors(t *testing.T) {
	m, _ := load(t, filepath.Join("..", "testdata", "models", "tiny-llama"))
	tests := []struct {
		name   string
		tokens []int
		opts   Options
	}{
		{"too short", []int{1, 2, 3}, Options{Protocol: ProtocolHF, Ctx: 8}},
		{"ctx 1", []int{1, 2, 3}, Options{Protocol: ProtocolHF, Ctx: 1}},
		{"ctx beyond model", make([]int, 4096), Options{Protocol: ProtocolHF, Ctx: 2048}},
		{"protocol", []int{1, 2, 3, 4}, Options{Protocol: "x", Ctx: 2}},
	}
	for _, tt := range tests {
		if _, err := Perplexity(m, tt.tokens, tt.opts); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	if _, err := ParseProtocol("wiki"); err == nil {
		t.Error("ParseProtocol accepted an unknown name")
	}
}

// TestPerplexityMatchesReference scores the full WikiText-2 test file with
// each shared model and both protocols, against transformers' numbers. It
// needs $QTK_DATA (the folder holding models/ and wikitext-2/) and takes
// several minutes.
func TestPerplexityMatchesReference(t *testing.T) {
	data := os.Getenv("QTK_DATA")
	if data == "" {
		t.Skip("QTK_DATA not set")
	}
	for _, name := range []string{"tiny-llama", "small-llama", "small-draft"} {
		dir := filepath.Join(data, "models", name)
		m, tok := load(t, dir)
		var ref map[string]json.RawMessage
		raw, err := os.ReadFile(filepath.Join(dir, "reference.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &ref); err != nil {
			t.Fatal(err)
		}
		tokens := readTokens(t, tok, filepath.Join(data, "wikitext-2", "wiki.test.raw"))
		bos, addBOS := tok.BOS()
		for _, c := range []struct {
			key      string
			protocol Protocol
		}{
			{"ppl_hf_seqlen512_fp32", ProtocolHF},
			{"ppl_llamacpp_ctx512_fp32", ProtocolLlamaCpp},
		} {
			var want struct {
				PPL float64 `json:"ppl"`
			}
			if err := json.Unmarshal(ref[c.key], &want); err != nil {
				t.Fatal(err)
			}
			res, err := Perplexity(m, tokens, Options{Protocol: c.protocol, Ctx: 512, BOS: bos, AddBOS: addBOS})
			if err != nil {
				t.Fatal(err)
			}
			rel := (res.PPL - want.PPL) / want.PPL
			t.Logf("%s %s: ppl %.4f, reference %.4f (%+.4f%%), %d scored, %.0f tokens/s", name, c.protocol, res.PPL, want.PPL, 100*rel, res.TokensScored, res.TokensPerSecond)
			if math.Abs(rel) > 0.001 {
				t.Errorf("%s %s: ppl %.4f differs from %.4f by more than 0.1%%", name, c.protocol, res.PPL, want.PPL)
			}
		}
	}
}
