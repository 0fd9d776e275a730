package tokenizer

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A decoder turns token strings back into text. Like the library's
// Decoder::decode_chain it maps a list of strings to a list of strings, so
// decoders can be chained; Decode joins the final list.
type decoder interface {
	decode(tokens []string) []string
}

// parseDecoder builds the decoder of a tokenizer.json "decoder" object. A
// JSON null gives nil.
func parseDecoder(raw json.RawMessage) (decoder, error) {
	typ, err := componentType(raw)
	if err != nil || typ == "" {
		return nil, err
	}
	switch typ {
	case "Sequence":
		seq, err := parseSequence(raw, "decoders", parseDecoder)
		return decoderSequence(seq), err
	case "ByteLevel":
		return byteLevelDecoder{}, nil
	case "Metaspace":
		m, err := parseMetaspace(raw)
		if err != nil {
			return nil, err
		}
		return metaspaceDecoder(m), nil
	case "Replace":
		return parseReplace(raw)
	case "ByteFallback":
		return byteFallbackDecoder{}, nil
	case "Fuse":
		return fuseDecoder{}, nil
	case "Strip":
		var cfg struct {
			Content string `json:"content"`
			Start   int    `json:"start"`
			Stop    int    `json:"stop"`
		}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return nil, err
		}
		r, n := utf8.DecodeRuneInString(cfg.Content)
		if n == 0 || n != len(cfg.Content) || cfg.Start < 0 || cfg.Stop < 0 {
			return nil, fmt.Errorf("Strip: want one content character and non-negative start and stop")
		}
		return stripDecoder{content: r, start: cfg.Start, stop: cfg.Stop}, nil
	case "BPEDecoder":
		cfg := struct {
			Suffix string `json:"suffix"`
		}{Suffix: "</w>"}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return nil, err
		}
		return bpeDecoder{suffix: cfg.Suffix}, nil
	}
	return nil, fmt.Errorf("unknown decoder type %q", typ)
}

// decoderSequence applies its decoders in order.
type decoderSequence []decoder

func (s decoderSequence) decode(tokens []string) []string {
	for _, d := range s {
		tokens = d.decode(tokens)
	}
	return tokens
}

// byteLevelDecoder maps byte-level characters back to bytes and returns the
// whole text as one string, invalid UTF-8 replaced as Rust's
// from_utf8_lossy does.
type byteLevelDecoder struct{}

func (byteLevelDecoder) decode(tokens []string) []string {
	var buf []byte
	for _, t := range tokens {
		buf = appendFromByteLevel(buf, t)
	}
	return []string{string(appendLossy(nil, buf))}
}

// metaspaceDecoder turns the replacement character back into spaces. In the
// first token it is dropped instead, unless the prepend scheme is "never"
// (all of them, as the library does, not only the leading one).
type metaspaceDecoder metaspace

func (m metaspaceDecoder) decode(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		with := " "
		if i == 0 && m.scheme != prependNever {
			with = ""
		}
		out[i] = strings.ReplaceAll(t, m.replacement, with)
	}
	return out
}

func (r replace) decode(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		out[i], _ = r.apply(t, 0, false)
	}
	return out
}

// byteFallbackDecoder turns runs of <0xXX> tokens back into text. A run that
// is not valid UTF-8 becomes one U+FFFD per byte.
type byteFallbackDecoder struct{}

func (byteFallbackDecoder) decode(tokens []string) []string {
	out := make([]string, 0, len(tokens))
	var run []byte
	flush := func() {
		if len(run) == 0 {
			return
		}
		if utf8.Valid(run) {
			out = append(out, string(run))
		} else {
			for range run {
				out = append(out, "\uFFFD")
			}
		}
		run = run[:0]
	}
	for _, t := range tokens {
		if b, ok := parseByteToken(t); ok {
			run = append(run, b)
			continue
		}
		flush()
		out = append(out, t)
	}
	flush()
	return out
}

// parseByteToken reads a byte-fallback token such as <0x0A>.
func parseByteToken(t string) (byte, bool) {
	if len(t) != 6 || !strings.HasPrefix(t, "<0x") || t[5] != '>' {
		return 0, false
	}
	b, err := strconv.ParseUint(t[3:5], 16, 8)
	return byte(b), err == nil
}

// fuseDecoder joins all tokens into one.
type fuseDecoder struct{}

func (fuseDecoder) decode(tokens []string) []string {
	return []string{strings.Join(tokens, "")}
}

// stripDecoder removes up to start copies of a character from the front of
// each token and up to stop copies from its end.
type stripDecoder struct {
	content     rune
	start, stop int
}

func (s stripDecoder) decode(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		for k := 0; k < s.start; k++ {
			r, n := utf8.DecodeRuneInString(t)
			if n == 0 || r != s.content {
				break
			}
			t = t[n:]
		}
		for k := 0; k < s.stop; k++ {
			r, n := utf8.DecodeLastRuneInString(t)
			if n == 0 || r != s.content {
				break
			}
			t = t[:len(t)-n]
		}
		out[i] = t
	}
	return out
}

// bpeDecoder replaces the end-of-word suffix by a space (by nothing in the
// last token).
type bpeDecoder struct{ suffix string }

func (d bpeDecoder) decode(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		with := " "
		if i == len(tokens)-1 {
			with = ""
		}
		out[i] = strings.ReplaceAll(t, d.suffix, with)
	}
	return out
}
