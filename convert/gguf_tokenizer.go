package convert

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/qtk-dev/qtk/formats/gguf"
	"github.com/qtk-dev/qtk/tokenizer"
)

// GGUF token types (gguf-py/gguf/constants.py TokenType; llama.h
// llama_token_type).
const (
	tokNormal      int32 = 1
	tokUnknown     int32 = 2
	tokControl     int32 = 3
	tokUserDefined int32 = 4
	tokUnused      int32 = 5
	tokByte        int32 = 6
)

// GGUFVocab is the tokenizer metadata of a GGUF file, derived from what
// tokenizer.json actually does.
type GGUFVocab struct {
	Model  string // "llama" (SentencePiece-style BPE) or "gpt2" (byte-level BPE)
	Pre    string // gpt2 only
	Tokens []string
	Scores []float32 // llama only
	Types  []int32
	Merges []string // gpt2 only, "a b"

	AddSpacePrefix bool // llama only
	AddBOS         bool
	BOS, EOS       int // -1: none
	UNK, PAD       int // -1: none
	ChatTemplate   string
}

type hfTokenizerFile struct {
	AddedTokens []struct {
		ID      int    `json:"id"`
		Content string `json:"content"`
		Special bool   `json:"special"`
	} `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Model         struct {
		Type         string          `json:"type"`
		Vocab        map[string]int  `json:"vocab"`
		Merges       json.RawMessage `json:"merges"`
		ByteFallback bool            `json:"byte_fallback"`
		UnkToken     *string         `json:"unk_token"`
	} `json:"model"`
}

// component is a tokenizer.json normalizer or pre-tokenizer, possibly a
// Sequence of them.
type component struct {
	Type           string          `json:"type"`
	Normalizers    []component     `json:"normalizers"`
	Pretokenizers  []component     `json:"pretokenizers"`
	PrependScheme  string          `json:"prepend_scheme"`
	AddPrefixSpace *bool           `json:"add_prefix_space"`
	UseRegex       *bool           `json:"use_regex"`
	Prepend        string          `json:"prepend"`
	Pattern        json.RawMessage `json:"pattern"`
	Content        string          `json:"content"`
}

// flatten lists the components of a (possibly nested) Sequence.
func flatten(raw json.RawMessage) ([]component, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var c component
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	var out []component
	var walk func(c component)
	walk = func(c component) {
		if c.Type == "Sequence" {
			for _, s := range c.Normalizers {
				walk(s)
			}
			for _, s := range c.Pretokenizers {
				walk(s)
			}
			return
		}
		out = append(out, c)
	}
	walk(c)
	return out, nil
}

func parseMerges(raw json.RawMessage) ([][2]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var strs []string
	if err := json.Unmarshal(raw, &strs); err == nil {
		out := make([][2]string, len(strs))
		for i, s := range strs {
			a, b, ok := strings.Cut(s, " ")
			if !ok {
				return nil, fmt.Errorf("merge %d %q has no space", i, s)
			}
			out[i] = [2]string{a, b}
		}
		return out, nil
	}
	var pairs [][2]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, fmt.Errorf("merges: %w", err)
	}
	return pairs, nil
}

var byteToken = regexp.MustCompile(`^<0x[0-9A-F]{2}>$`)

// LoadGGUFVocab derives GGUF tokenizer metadata from the tokenizer.json
// (and tokenizer_config.json, chat_template.jinja) in dir. vocabSize is the
// model's embedding count: the token list is padded to it with unused
// "[PAD<i>]" tokens as convert_hf_to_gguf.py does.
func LoadGGUFVocab(dir string, vocabSize int) (*GGUFVocab, error) {
	path := filepath.Join(dir, "tokenizer.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var f hfTokenizerFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	v, err := vocabFromTokenizer(&f, tok, vocabSize)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cfg := readTokenizerConfig(dir)
	if v.EOS < 0 {
		v.EOS = tokenIDOf(cfg["eos_token"], tok)
	}
	if v.BOS < 0 {
		v.BOS = tokenIDOf(cfg["bos_token"], tok)
	}
	v.PAD = tokenIDOf(cfg["pad_token"], tok)
	v.ChatTemplate = chatTemplate(dir, cfg)
	return v, nil
}

func loadTokenizerFile(path string) (*hfTokenizerFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f hfTokenizerFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &f, nil
}

func vocabFromTokenizer(f *hfTokenizerFile, tok *tokenizer.Tokenizer, vocabSize int) (*GGUFVocab, error) {
	if f.Model.Type != "BPE" {
		return nil, fmt.Errorf("tokenizer model %q: only BPE converts to GGUF", f.Model.Type)
	}
	norms, err := flatten(f.Normalizer)
	if err != nil {
		return nil, fmt.Errorf("normalizer: %w", err)
	}
	pres, err := flatten(f.PreTokenizer)
	if err != nil {
		return nil, fmt.Errorf("pre_tokenizer: %w", err)
	}
	merges, err := parseMerges(f.Model.Merges)
	if err != nil {
		return nil, err
	}

	n := tok.VocabSize()
	if n > vocabSize {
		return nil, fmt.Errorf("tokenizer has %d tokens, more than the model's vocab_size %d", n, vocabSize)
	}
	v := &GGUFVocab{BOS: -1, EOS: -1, UNK: -1, PAD: -1}
	v.Tokens = make([]string, vocabSize)
	v.Types = make([]int32, vocabSize)
	for i := range vocabSize {
		s, ok := tok.Token(i)
		if !ok {
			v.Tokens[i], v.Types[i] = fmt.Sprintf("[PAD%d]", i), tokUnused
			continue
		}
		v.Tokens[i], v.Types[i] = s, tokNormal
	}
	for _, a := range f.AddedTokens {
		if a.ID < 0 || a.ID >= vocabSize {
			continue
		}
		if a.Special {
			v.Types[a.ID] = tokControl
		} else {
			v.Types[a.ID] = tokUserDefined
		}
	}
	if f.Model.UnkToken != nil {
		if id, ok := tok.TokenID(*f.Model.UnkToken); ok {
			v.UNK = id
		}
	}
	if id, added := tok.BOS(); added {
		v.AddBOS, v.BOS = true, id
	}

	hasMetaspace, hasByteLevel := false, false
	for _, p := range pres {
		hasMetaspace = hasMetaspace || p.Type == "Metaspace"
		hasByteLevel = hasByteLevel || p.Type == "ByteLevel"
	}
	prepends := false
	for _, c := range norms {
		if c.Type == "Prepend" && c.Prepend == "▁" {
			prepends = true
		}
	}

	switch {
	case hasByteLevel:
		return v, byteLevelVocab(v, norms, pres, merges)
	case hasMetaspace || prepends:
		return v, spmVocab(v, f, norms, pres, merges, prepends)
	}
	return nil, errors.New("tokenizer is neither SentencePiece-style (Metaspace or a Prepend \"▁\" normalizer) nor byte-level BPE; GGUF cannot describe it")
}

// spmVocab fills the metadata of llama.cpp's SentencePiece tokenizer
// ("llama"). llama.cpp merges the adjacent pair whose concatenation has the
// highest score, so each token made by a merge scores minus the rank of the
// first merge that makes it: merges then happen in the order of the Hugging
// Face merge list. All-equal scores (what convert_hf_to_gguf.py writes for a
// tokenizer.json without tokenizer.model) break tokenization.
func spmVocab(v *GGUFVocab, f *hfTokenizerFile, norms, pres []component, merges [][2]string, prepends bool) error {
	if !f.Model.ByteFallback {
		return errors.New("SentencePiece-style BPE without byte_fallback: llama.cpp's \"llama\" tokenizer always falls back to <0xXX> bytes")
	}
	v.Model = "llama"
	v.AddSpacePrefix = prepends
	for _, p := range pres {
		if p.Type != "Metaspace" {
			return fmt.Errorf("pre-tokenizer %s beside Metaspace: llama.cpp's SentencePiece tokenizer does not split", p.Type)
		}
		switch p.PrependScheme {
		case "first", "always":
			v.AddSpacePrefix = true
		case "never":
		case "":
			if p.AddPrefixSpace == nil || *p.AddPrefixSpace {
				v.AddSpacePrefix = true
			}
		default:
			return fmt.Errorf("Metaspace prepend_scheme %q", p.PrependScheme)
		}
	}
	for _, c := range norms {
		switch {
		case c.Type == "Prepend" && c.Prepend == "▁":
		case c.Type == "Replace" && c.Content == "▁":
		default:
			return fmt.Errorf("normalizer %s: llama.cpp's SentencePiece tokenizer only replaces spaces with ▁", c.Type)
		}
	}
	rank := make(map[string]int, len(merges))
	for i, m := range merges {
		s := m[0] + m[1]
		if _, ok := rank[s]; !ok {
			rank[s] = i
		}
	}
	unmerged := -float32(len(merges) + 1)
	v.Scores = make([]float32, len(v.Tokens))
	for i, s := range v.Tokens {
		switch {
		case v.Types[i] != tokNormal:
			// control, user-defined and unused tokens: llama.cpp matches
			// these whole, never by merging.
		case byteToken.MatchString(s):
			v.Types[i] = tokByte
		case i == v.UNK:
			v.Types[i] = tokUnknown
		default:
			if r, ok := rank[s]; ok {
				v.Scores[i] = -float32(r)
			} else if len([]rune(s)) > 1 {
				// Never made by a merge, so Hugging Face never produces it
				// from text: rank it below every real merge.
				v.Scores[i] = unmerged
			}
		}
	}
	if v.UNK < 0 {
		if id := indexOf(v.Tokens, "<unk>"); id >= 0 {
			v.UNK = id
		}
	}
	if v.UNK >= 0 {
		v.Types[v.UNK] = tokUnknown
	}
	return nil
}

// byteLevelVocab fills the metadata of llama.cpp's byte-level BPE tokenizer
// ("gpt2"), naming its pre-tokenizer regex.
func byteLevelVocab(v *GGUFVocab, norms, pres []component, merges [][2]string) error {
	v.Model = "gpt2"
	var patterns []string
	for _, p := range pres {
		switch p.Type {
		case "ByteLevel":
			if p.AddPrefixSpace != nil && *p.AddPrefixSpace {
				return errors.New("ByteLevel pre-tokenizer with add_prefix_space: llama.cpp's BPE tokenizer never adds a prefix space")
			}
			if p.UseRegex == nil || *p.UseRegex {
				patterns = append(patterns, tokenizer.GPT2Pattern)
			}
		case "Split":
			var pat struct {
				Regex  *string `json:"Regex"`
				String *string `json:"String"`
			}
			if err := json.Unmarshal(p.Pattern, &pat); err != nil || pat.Regex == nil {
				return fmt.Errorf("Split pre-tokenizer without a regex pattern (%s): llama.cpp has no matching pre-tokenizer", p.Pattern)
			}
			patterns = append(patterns, *pat.Regex)
		default:
			return fmt.Errorf("pre-tokenizer %s: llama.cpp has no matching pre-tokenizer", p.Type)
		}
	}
	if len(patterns) != 1 {
		return fmt.Errorf("byte-level BPE with %d split patterns; llama.cpp's named pre-tokenizers use one", len(patterns))
	}
	pre, nfc, ok := tokenizer.GGUFPreTokenizer(patterns[0])
	if !ok {
		return fmt.Errorf("pre-tokenizer regex %q is not one llama.cpp knows (gpt2, llama-bpe, qwen2)", patterns[0])
	}
	v.Pre = pre
	for _, c := range norms {
		if c.Type == "NFC" && nfc {
			continue // Qwen2's tokenizer.json carries NFC, as llama.cpp's qwen2 pre-tokenizer does
		}
		return fmt.Errorf("normalizer %s: llama.cpp's BPE tokenizer does not normalize", c.Type)
	}
	v.Merges = make([]string, len(merges))
	for i, m := range merges {
		if strings.Contains(m[0], " ") || strings.Contains(m[1], " ") {
			return fmt.Errorf("merge %d %q holds a space, which GGUF's \"a b\" merges cannot express", i, m)
		}
		v.Merges[i] = m[0] + " " + m[1]
	}
	return nil
}

func indexOf(xs []string, s string) int {
	for i, x := range xs {
		if x == s {
			return i
		}
	}
	return -1
}

func readTokenizerConfig(dir string) map[string]json.RawMessage {
	var cfg map[string]json.RawMessage
	data, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil || json.Unmarshal(data, &cfg) != nil {
		return nil
	}
	return cfg
}

// tokenIDOf resolves a tokenizer_config.json token entry: a string or an
// object with "content"; -1 when absent or unknown.
func tokenIDOf(raw json.RawMessage, tok *tokenizer.Tokenizer) int {
	if len(raw) == 0 {
		return -1
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		var obj struct {
			Content string `json:"content"`
		}
		if json.Unmarshal(raw, &obj) != nil {
			return -1
		}
		s = obj.Content
	}
	if id, ok := tok.TokenID(s); ok && s != "" {
		return id
	}
	return -1
}

// chatTemplate returns the chat template of chat_template.jinja, else of
// tokenizer_config.json (a string, or a list of named templates: "default").
func chatTemplate(dir string, cfg map[string]json.RawMessage) string {
	if data, err := os.ReadFile(filepath.Join(dir, "chat_template.jinja")); err == nil {
		return string(data)
	}
	raw, ok := cfg["chat_template"]
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var named []struct {
		Name     string `json:"name"`
		Template string `json:"template"`
	}
	if json.Unmarshal(raw, &named) == nil {
		sort.SliceStable(named, func(i, j int) bool { return named[i].Name == "default" && named[j].Name != "default" })
		if len(named) > 0 {
			return named[0].Template
		}
	}
	return ""
}

// Set writes the vocabulary's metadata keys through set.
func (v *GGUFVocab) Set(set func(string, gguf.Value)) {
	set("tokenizer.ggml.model", gguf.Scalar(v.Model))
	if v.Pre != "" {
		set("tokenizer.ggml.pre", gguf.Scalar(v.Pre))
	}
	set("tokenizer.ggml.tokens", gguf.Array(v.Tokens))
	if v.Scores != nil {
		set("tokenizer.ggml.scores", gguf.Array(v.Scores))
	}
	set("tokenizer.ggml.token_type", gguf.Array(v.Types))
	if v.Merges != nil {
		set("tokenizer.ggml.merges", gguf.Array(v.Merges))
	}
	for _, id := range []struct {
		key string
		id  int
	}{{"bos_token_id", v.BOS}, {"eos_token_id", v.EOS}, {"unknown_token_id", v.UNK}, {"padding_token_id", v.PAD}} {
		if id.id >= 0 {
			set("tokenizer.ggml."+id.key, gguf.Scalar(uint32(id.id)))
		}
	}
	set("tokenizer.ggml.add_bos_token", gguf.Scalar(v.AddBOS))
	set("tokenizer.ggml.add_eos_token", gguf.Scalar(false))
	if v.Model == "llama" {
		set("tokenizer.ggml.add_space_prefix", gguf.Scalar(v.AddSpacePrefix))
	}
	if v.ChatTemplate != "" {
		set("tokenizer.chat_template", gguf.Scalar(v.ChatTemplate))
	}
}
