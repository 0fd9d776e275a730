package convert

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/qtk-dev/qtk/formats/gguf"
	"github.com/qtk-dev/qtk/model"
)

func writeTinyGGUF(t *testing.T, typ string) (*model.Checkpoint, *gguf.File) {
	t.Helper()
	ck := openTiny(t)
	out := filepath.Join(t.TempDir(), "tiny-"+typ+".gguf")
	rep, err := WriteGGUF(context.Background(), ck, out, GGUFOptions{Type: typ})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Fallbacks != 0 {
		t.Errorf("%s: %d fallbacks on tiny (256/768 wide)", typ, rep.Fallbacks)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return ck, f
}

func TestGGUFTinyF16(t *testing.T) {
	ck, f := writeTinyGGUF(t, "f16")
	cfg := ck.Config
	if a, _ := gguf.Get[string](f, "general.architecture"); a != "llama" {
		t.Errorf("architecture %q", a)
	}
	for key, want := range map[string]int64{
		"general.file_type": 1, "llama.context_length": 1024, "llama.embedding_length": 256,
		"llama.block_count": 4, "llama.feed_forward_length": 768, "llama.rope.dimension_count": 32,
		"llama.attention.head_count": 8, "llama.attention.head_count_kv": 2, "llama.vocab_size": 4096,
		"tokenizer.ggml.bos_token_id": 0, "tokenizer.ggml.eos_token_id": 0,
	} {
		if got, err := f.Int(key); err != nil || got != want {
			t.Errorf("%s = %d (%v), want %d", key, got, err, want)
		}
	}
	if eps, _ := gguf.Get[float32](f, "llama.attention.layer_norm_rms_epsilon"); eps != 1e-5 {
		t.Errorf("eps %g", eps)
	}
	if base, _ := gguf.Get[float32](f, "llama.rope.freq_base"); base != 10000 {
		t.Errorf("freq_base %g", base)
	}
	if _, ok := f.Value("general.quantization_version"); ok {
		t.Error("quantization_version in an F16 file")
	}
	var names []string
	for _, ti := range f.Tensors() {
		names = append(names, ti.Name)
		want := gguf.TypeF16
		if len(ti.Dims) == 1 {
			want = gguf.TypeF32
		}
		if ti.Type != want {
			t.Errorf("%s: %s, want %s", ti.Name, ti.Type, want)
		}
	}
	if len(names) != 2+9*4+1 || names[0] != "token_embd.weight" || !slices.Contains(names, "output.weight") || !slices.Contains(names, "blk.3.ffn_down.weight") {
		t.Errorf("tensors %v", names)
	}
	// attn_q is the permuted safetensors weight, through F16.
	q, err := f.Dequantize("blk.1.attn_q.weight")
	if err != nil {
		t.Fatal(err)
	}
	ti, _ := f.Tensor("blk.1.attn_q.weight")
	if !slices.Equal(ti.Shape(), []int64{256, 256}) {
		t.Errorf("attn_q shape %v", ti.Shape())
	}
	w, _ := ck.Float32(model.AttnQ, 1)
	pw, _ := model.PermuteQK(w, cfg.QDim(), cfg.HiddenSize, cfg.NumHeads)
	want := make([]float32, len(pw))
	enc := make([]byte, 2*len(pw))
	gguf.Encode(gguf.TypeF16, enc, pw)
	gguf.Decode(gguf.TypeF16, want, enc)
	if !slices.Equal(q, want) {
		t.Error("attn_q is not the permuted weight")
	}
	if slices.Equal(pw, w) {
		t.Error("permutation did nothing")
	}
	// attn_k permuted with the KV head count.
	k, _ := f.Dequantize("blk.0.attn_k.weight")
	kw, _ := ck.Float32(model.AttnK, 0)
	pk, _ := model.PermuteQK(kw, cfg.KVDim(), cfg.HiddenSize, cfg.NumKVHeads)
	for i := range pk {
		if d := k[i] - pk[i]; d > 1e-2 || d < -1e-2 {
			t.Fatalf("attn_k[%d] = %g, want %g", i, k[i], pk[i])
		}
	}
}

func TestGGUFTinyQuantized(t *testing.T) {
	_, f := writeTinyGGUF(t, "q4_k_m")
	if v, err := f.Int("general.quantization_version"); err != nil || v != 2 {
		t.Errorf("quantization_version %d %v", v, err)
	}
	if v, _ := f.Int("general.file_type"); v != 15 {
		t.Errorf("file_type %d", v)
	}
	want := map[string]gguf.Type{
		"token_embd.weight": gguf.TypeQ4_K, "output.weight": gguf.TypeQ6_K, "output_norm.weight": gguf.TypeF32,
		"blk.0.attn_v.weight": gguf.TypeQ4_K, "blk.2.attn_v.weight": gguf.TypeQ6_K, "blk.3.attn_v.weight": gguf.TypeQ6_K,
		"blk.1.ffn_down.weight": gguf.TypeQ4_K, "blk.2.ffn_down.weight": gguf.TypeQ6_K, "blk.0.attn_q.weight": gguf.TypeQ4_K,
		"blk.3.ffn_up.weight": gguf.TypeQ4_K,
	}
	for name, typ := range want {
		if ti, ok := f.Tensor(name); !ok || ti.Type != typ {
			t.Errorf("%s: %v, want %s", name, ti.Type, typ)
		}
	}

	_, f8 := writeTinyGGUF(t, "q8_0")
	for _, ti := range f8.Tensors() {
		if len(ti.Dims) == 2 && ti.Type != gguf.TypeQ8_0 {
			t.Errorf("q8_0: %s is %s", ti.Name, ti.Type)
		}
	}
	if v, _ := f8.Int("general.file_type"); v != 7 {
		t.Errorf("q8_0 file_type %d", v)
	}
}

func TestUseMoreBits(t *testing.T) {
	var got []int
	for i := range 32 {
		if useMoreBits(i, 32) {
			got = append(got, i)
		}
	}
	want := []int{0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31}
	if !slices.Equal(got, want) {
		t.Errorf("use_more_bits(·, 32) = %v, want %v", got, want)
	}
}

func TestGGUFTypeFallback(t *testing.T) {
	cfg := &model.Config{NumLayers: 4}
	ft := ggufFileTypes["q4_k_m"]
	for _, c := range []struct {
		spec model.TensorSpec
		want gguf.Type
		fell bool
	}{
		{model.TensorSpec{Role: model.FFNUp, Layer: 0, Shape: []int{1024, 384}}, gguf.TypeQ5_0, true},
		{model.TensorSpec{Role: model.FFNDown, Layer: 3, Shape: []int{384, 1024}}, gguf.TypeQ6_K, false},
		{model.TensorSpec{Role: model.AttnV, Layer: 3, Shape: []int{128, 384}}, gguf.TypeQ8_0, true},
		{model.TensorSpec{Role: model.Output, Layer: -1, Shape: []int{1000, 384}}, gguf.TypeQ8_0, false},
		{model.TensorSpec{Role: model.AttnNorm, Layer: 0, Shape: []int{384}}, gguf.TypeF32, false},
	} {
		got, fell, err := ggufTensorType(ft, c.spec, cfg)
		if err != nil || got != c.want || fell != c.fell {
			t.Errorf("%s %v: %s fell %v (%v), want %s fell %v", c.spec.Role, c.spec.Shape, got, fell, err, c.want, c.fell)
		}
	}
	// q4_0 keeps output at Q6_K; tied embeddings take the output's type.
	tied := &model.Config{NumLayers: 4, TieWordEmbeddings: true}
	if got, _, _ := ggufTensorType(ggufFileTypes["q4_0"], model.TensorSpec{Role: model.TokenEmbedding, Layer: -1, Shape: []int{1000, 256}}, tied); got != gguf.TypeQ6_K {
		t.Errorf("tied token_embd at q4_0: %s", got)
	}
}

func TestGGUFVocabByteLevel(t *testing.T) {
	v, err := LoadGGUFVocab(tinyLlama, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if v.Model != "gpt2" || v.Pre != "gpt-2" || len(v.Tokens) != 4096 || len(v.Merges) != 3839 || v.Scores != nil {
		t.Errorf("model %q pre %q tokens %d merges %d", v.Model, v.Pre, len(v.Tokens), len(v.Merges))
	}
	if v.Types[0] != tokControl || v.Types[100] != tokNormal || v.Merges[0] != "Ġ t" || v.AddBOS {
		t.Errorf("types %d %d, merge %q, add_bos %v", v.Types[0], v.Types[100], v.Merges[0], v.AddBOS)
	}
	// Padding to a larger embedding.
	v, _ = LoadGGUFVocab(tinyLlama, 4100)
	if len(v.Tokens) != 4100 || v.Tokens[4099] != "[PAD4099]" || v.Types[4099] != tokUnused {
		t.Errorf("padding: %d %q %d", len(v.Tokens), v.Tokens[len(v.Tokens)-1], v.Types[len(v.Types)-1])
	}
}

func TestGGUFVocabSentencePiece(t *testing.T) {
	dir := filepath.Join("..", "testdata", "tokenizers", "small-llama")
	v, err := LoadGGUFVocab(dir, 32000)
	if err != nil {
		t.Fatal(err)
	}
	if v.Model != "llama" || v.Pre != "" || len(v.Tokens) != 32000 || len(v.Scores) != 32000 || v.Merges != nil {
		t.Fatalf("model %q pre %q tokens %d scores %d", v.Model, v.Pre, len(v.Tokens), len(v.Scores))
	}
	if !v.AddSpacePrefix || !v.AddBOS || v.BOS != 1 || v.EOS != 2 || v.UNK != 0 || v.PAD != 2 {
		t.Errorf("space prefix %v add_bos %v bos %d eos %d unk %d pad %d", v.AddSpacePrefix, v.AddBOS, v.BOS, v.EOS, v.UNK, v.PAD)
	}
	if v.Types[0] != tokUnknown || v.Types[1] != tokControl || v.Types[2] != tokControl {
		t.Errorf("special types %v", v.Types[:3])
	}
	nbytes := 0
	for i, s := range v.Tokens {
		if strings.HasPrefix(s, "<0x") && v.Types[i] == tokByte {
			nbytes++
		}
	}
	if nbytes != 256 {
		t.Errorf("%d byte tokens", nbytes)
	}
	// Scores fall with merge rank: a merge's result outranks every later one.
	f := readSmallLlamaMerges(t, dir)
	id := map[string]int{}
	for i, s := range v.Tokens {
		id[s] = i
	}
	prev := float32(1)
	seen := map[string]bool{}
	distinct := map[float32]bool{}
	for _, m := range f {
		s := m[0] + m[1]
		if seen[s] {
			continue
		}
		seen[s] = true
		sc := v.Scores[id[s]]
		if sc >= prev {
			t.Fatalf("score of %q (%g) not below the previous merge's (%g)", s, sc, prev)
		}
		prev = sc
		distinct[sc] = true
	}
	if len(distinct) < 1000 {
		t.Errorf("only %d distinct scores", len(distinct))
	}
}

func readSmallLlamaMerges(t *testing.T, dir string) [][2]string {
	t.Helper()
	f, err := loadTokenizerFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := parseMerges(f.Model.Merges)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestGGUFRefusals(t *testing.T) {
	ck := openTiny(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "x.gguf")
	if _, err := WriteGGUF(context.Background(), ck, out, GGUFOptions{Type: "q3_k_s"}); err == nil || !strings.Contains(err.Error(), "unsupported GGUF type") {
		t.Errorf("q3_k_s: %v", err)
	}
	if _, err := WriteGGUF(context.Background(), ck, out, GGUFOptions{Type: "q4_0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteGGUF(context.Background(), ck, out, GGUFOptions{Type: "q4_0"}); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("existing output: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out2 := filepath.Join(dir, "y.gguf")
	if _, err := WriteGGUF(ctx, ck, out2, GGUFOptions{Type: "f16"}); err == nil {
		t.Error("cancelled conversion succeeded")
	}
	if ents, _ := filepath.Glob(filepath.Join(dir, "*")); len(ents) != 1 {
		t.Errorf("left behind: %v", ents)
	}
}
