package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/qtk-dev/qtk/formats/gguf"
)

// GGUF token types (llama.h enum llama_token_type; gguf-py TokenType).
const (
	ggufTokenUnknown     = 2
	ggufTokenControl     = 3
	ggufTokenUserDefined = 4
)

// ggufPreTokenizers are the pre-tokenizers of llama.cpp's byte-level BPE
// vocabularies ("gpt2") that qtk knows, by tokenizer.ggml.pre name: the
// regex each splits the text with (the one llama-vocab.cpp uses for that
// name) and whether the text is NFC-normalized first.
var ggufPreTokenizers = []struct {
	name, regex string
	nfc         bool
}{
	{"gpt-2", GPT2Pattern, false},
	{"llama-bpe", `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`, false},
	{"qwen2", `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`, true},
}

// GGUFPreTokenizer returns llama.cpp's name (tokenizer.ggml.pre) for the
// byte-level BPE pre-tokenizer that splits with regex, and whether it
// NFC-normalizes the text first; ok is false for a regex llama.cpp has no
// name for.
func GGUFPreTokenizer(regex string) (name string, nfc, ok bool) {
	for _, p := range ggufPreTokenizers {
		if p.regex == regex {
			return p.name, p.nfc, true
		}
	}
	return "", false, false
}

// ggufPreTokenizerJSON writes the pre-tokenizer (and normalizer, "" for
// none) of a tokenizer.ggml.pre name as tokenizer.json components.
func ggufPreTokenizerJSON(name string) (normalizer, pre string, ok bool) {
	for _, p := range ggufPreTokenizers {
		if p.name != name {
			continue
		}
		if p.regex == GPT2Pattern {
			// ByteLevel's own regex.
			return "", `{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}`, true
		}
		regex, _ := json.Marshal(p.regex) // a string always marshals
		pre = `{"type": "Sequence", "pretokenizers": [
			{"type": "Split", "behavior": "Isolated", "invert": false, "pattern": {"Regex": ` + string(regex) + `}},
			{"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]}`
		if p.nfc {
			normalizer = `{"type": "NFC"}`
		}
		return normalizer, pre, true
	}
	return "", "", false
}

// The rest of the pipeline of each GGUF vocabulary type, as tokenizer.json
// components: what llama.cpp does around the model.
const (
	ggufByteLevelDecoder = `{"type": "ByteLevel"}`
	// llama.cpp's SentencePiece tokenizer prepends a space to the text
	// (and after every special token) when add_space_prefix is set, and
	// writes spaces as ▁.
	ggufSPMPrefix     = `{"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}`
	ggufSPMNoPrefix   = `{"type": "Replace", "pattern": {"String": " "}, "content": "▁"}`
	ggufSPMDecoder    = `{"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}`
	ggufSPMKeepPrefix = `{"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"}]}`
)

// ggufVocab is the tokenizer.ggml.* metadata of a GGUF file.
type ggufVocab struct {
	model, pre     string
	tokens         []string
	scores         []float32
	types          []int32
	merges         []string
	bos, eos, unk  int // -1: none
	addBOS, addEOS bool
	addSpacePrefix bool
}

// FromGGUF builds the tokenizer a GGUF file describes in its
// tokenizer.ggml.* metadata, encoding as llama.cpp does: model "gpt2" is
// byte-level BPE with one of llama.cpp's named pre-tokenizers (gpt-2,
// llama-bpe, qwen2); model "llama" is SentencePiece with score-driven
// merges and <0xXX> byte fallback. Control, unknown and user-defined tokens
// are matched whole in the text; BOS (and EOS) are added as the file's
// add_bos_token (add_eos_token) say.
func FromGGUF(f *gguf.File) (*Tokenizer, error) {
	v, err := readGGUFVocab(f)
	if err != nil {
		return nil, err
	}
	var t Tokenizer
	var normalizer, pre, dec string
	switch v.model {
	case "gpt2":
		var ok bool
		if normalizer, pre, ok = ggufPreTokenizerJSON(v.pre); !ok {
			return nil, fmt.Errorf("tokenizer.ggml.pre %q is not supported (gpt-2, llama-bpe, qwen2)", v.pre)
		}
		dec = ggufByteLevelDecoder
		pairs := make([][2]string, len(v.merges))
		for i, m := range v.merges {
			a, b, ok := cutMerge(m)
			if !ok {
				return nil, fmt.Errorf("tokenizer.ggml.merges[%d] %q is not two tokens separated by a space", i, m)
			}
			pairs[i] = [2]string{a, b}
		}
		cfg := bpeConfig{Type: "BPE", Vocab: make(map[string]int64, len(v.tokens))}
		for id, tok := range v.tokens {
			if _, dup := cfg.Vocab[tok]; !dup {
				cfg.Vocab[tok] = int64(id)
			}
		}
		if t.model, err = newBPE(cfg, pairs); err != nil {
			return nil, fmt.Errorf("tokenizer.ggml.merges: %w", err)
		}
	case "llama":
		normalizer, dec = ggufSPMNoPrefix, ggufSPMKeepPrefix
		if v.addSpacePrefix {
			normalizer, dec = ggufSPMPrefix, ggufSPMDecoder
		}
		if v.scores == nil {
			v.scores = make([]float32, len(v.tokens))
		}
		if t.model, err = newSPM(v.tokens, v.scores, v.unk); err != nil {
			return nil, fmt.Errorf("tokenizer.ggml.scores: %w", err)
		}
	default:
		return nil, fmt.Errorf("tokenizer.ggml.model %q is not supported (gpt2, llama)", v.model)
	}
	if t.normalizer, err = parseNormalizer(json.RawMessage(normalizer)); err != nil {
		return nil, err
	}
	if t.pre, err = parsePreTokenizer(json.RawMessage(pre)); err != nil {
		return nil, err
	}
	if t.decoder, err = parseDecoder(json.RawMessage(dec)); err != nil {
		return nil, err
	}
	var post template
	if v.addBOS {
		post.before = []int{v.bos}
	}
	if v.addEOS {
		post.after = []int{v.eos}
	}
	if v.addBOS || v.addEOS {
		t.post = post
	}
	var added []addedToken
	for id, typ := range v.types {
		switch typ {
		case ggufTokenControl, ggufTokenUnknown:
			added = append(added, addedToken{content: v.tokens[id], special: true})
		case ggufTokenUserDefined:
			added = append(added, addedToken{content: v.tokens[id]})
		}
	}
	t.added = newAddedVocab(added, t.model, t.normalizer)
	return &t, nil
}

// cutMerge splits a GGUF merge "a b" at its single space.
func cutMerge(m string) (a, b string, ok bool) {
	a, b, ok = strings.Cut(m, " ")
	return a, b, ok && a != "" && b != "" && !strings.Contains(b, " ")
}

// readGGUFVocab reads and checks the tokenizer metadata, with llama.cpp's
// defaults for the optional keys.
func readGGUFVocab(f *gguf.File) (*ggufVocab, error) {
	r := ggufReader{f: f}
	v := &ggufVocab{model: r.str("tokenizer.ggml.model", true), pre: r.str("tokenizer.ggml.pre", false)}
	v.tokens = ggufArray[string](&r, "tokenizer.ggml.tokens", true)
	v.scores = ggufArray[float32](&r, "tokenizer.ggml.scores", false)
	v.types = ggufArray[int32](&r, "tokenizer.ggml.token_type", false)
	v.merges = ggufArray[string](&r, "tokenizer.ggml.merges", v.model == "gpt2")
	v.bos = r.id("tokenizer.ggml.bos_token_id", len(v.tokens))
	v.eos = r.id("tokenizer.ggml.eos_token_id", len(v.tokens))
	v.unk = r.id("tokenizer.ggml.unknown_token_id", len(v.tokens))
	// llama.cpp adds BOS and a space prefix by default for SentencePiece
	// vocabularies only.
	v.addBOS = r.flag("tokenizer.ggml.add_bos_token", v.model == "llama")
	v.addEOS = r.flag("tokenizer.ggml.add_eos_token", false)
	v.addSpacePrefix = r.flag("tokenizer.ggml.add_space_prefix", v.model == "llama")
	if r.err != nil {
		return nil, r.err
	}
	switch {
	case len(v.tokens) == 0:
		return nil, errors.New("tokenizer.ggml.tokens is empty")
	case v.types != nil && len(v.types) != len(v.tokens):
		return nil, fmt.Errorf("tokenizer.ggml.token_type has %d entries for %d tokens", len(v.types), len(v.tokens))
	case v.scores != nil && len(v.scores) != len(v.tokens):
		return nil, fmt.Errorf("tokenizer.ggml.scores has %d entries for %d tokens", len(v.scores), len(v.tokens))
	case v.addBOS && v.bos < 0:
		return nil, errors.New("tokenizer.ggml.add_bos_token is set but there is no bos_token_id")
	case v.addEOS && v.eos < 0:
		return nil, errors.New("tokenizer.ggml.add_eos_token is set but there is no eos_token_id")
	}
	return v, nil
}

// ggufReader reads metadata values, keeping the first error.
type ggufReader struct {
	f   *gguf.File
	err error
}

func (r *ggufReader) fail(key string, v gguf.Value, want string) {
	if r.err == nil {
		r.err = fmt.Errorf("%s is a %s, want %s", key, v.Type(), want)
	}
}

func (r *ggufReader) value(key string, required bool) (gguf.Value, bool) {
	v, ok := r.f.Value(key)
	if !ok && required && r.err == nil {
		r.err = fmt.Errorf("metadata %s is missing", key)
	}
	return v, ok
}

func (r *ggufReader) str(key string, required bool) string {
	v, ok := r.value(key, required)
	if !ok {
		return ""
	}
	s, ok := gguf.As[string](v)
	if !ok {
		r.fail(key, v, "string")
	}
	return s
}

func (r *ggufReader) flag(key string, def bool) bool {
	v, ok := r.value(key, false)
	if !ok {
		return def
	}
	b, ok := gguf.As[bool](v)
	if !ok {
		r.fail(key, v, "bool")
		return def
	}
	return b
}

// id reads a token id of any integer type; -1 when absent.
func (r *ggufReader) id(key string, n int) int {
	if _, ok := r.value(key, false); !ok {
		return -1
	}
	id, err := r.f.Int(key)
	if err != nil || id < 0 || id >= int64(n) {
		if r.err == nil {
			r.err = fmt.Errorf("%s must be a token id in 0..%d", key, n-1)
		}
		return -1
	}
	return int(id)
}

func ggufArray[T gguf.ScalarType](r *ggufReader, key string, required bool) []T {
	v, ok := r.value(key, required)
	if !ok {
		return nil
	}
	xs, ok := gguf.AsArray[T](v)
	if !ok {
		var zero T
		r.fail(key, v, "array of "+gguf.Scalar(zero).Type().String())
	}
	return xs
}
