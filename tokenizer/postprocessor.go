package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// A postProcessor adds special tokens around an encoded single sequence.
// Pair templates are not supported: Encode takes one text.
type postProcessor interface {
	process(ids []int) []int
	// prefix returns the ids put in front of the sequence.
	prefix() []int
}

// parsePostProcessor builds the post-processor of a tokenizer.json
// "post_processor" object. A JSON null gives nil.
func parsePostProcessor(raw json.RawMessage) (postProcessor, error) {
	typ, err := componentType(raw)
	if err != nil || typ == "" {
		return nil, err
	}
	switch typ {
	case "Sequence":
		seq, err := parseSequence(raw, "processors", parsePostProcessor)
		return postProcessorSequence(seq), err
	case "ByteLevel":
		// Only trims offsets, which Encode does not return.
		return template{}, nil
	case "TemplateProcessing":
		return parseTemplate(raw)
	case "BertProcessing", "RobertaProcessing":
		// Both wrap a single sequence as [CLS] $A [SEP].
		var cfg struct {
			Sep [2]json.RawMessage `json:"sep"`
			Cls [2]json.RawMessage `json:"cls"`
		}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return nil, err
		}
		var cls, sep uint32
		if err := json.Unmarshal(cfg.Cls[1], &cls); err != nil {
			return nil, fmt.Errorf("cls: %w", err)
		}
		if err := json.Unmarshal(cfg.Sep[1], &sep); err != nil {
			return nil, fmt.Errorf("sep: %w", err)
		}
		return template{before: []int{int(cls)}, after: []int{int(sep)}}, nil
	}
	return nil, fmt.Errorf("unknown post-processor type %q", typ)
}

// template puts fixed ids before and after the sequence.
type template struct {
	before, after []int
}

func (t template) process(ids []int) []int {
	if len(t.before) == 0 && len(t.after) == 0 {
		return ids
	}
	out := make([]int, 0, len(t.before)+len(ids)+len(t.after))
	out = append(out, t.before...)
	out = append(out, ids...)
	return append(out, t.after...)
}

func (t template) prefix() []int { return t.before }

// parseTemplate reads a TemplateProcessing's "single" template: a list of
// {"SpecialToken": {"id": ...}} and {"Sequence": {"id": "A"}} pieces, the
// special tokens' ids coming from "special_tokens".
func parseTemplate(raw json.RawMessage) (template, error) {
	var cfg struct {
		Single []struct {
			SpecialToken *struct {
				ID string `json:"id"`
			} `json:"SpecialToken"`
			Sequence *struct {
				ID string `json:"id"`
			} `json:"Sequence"`
		} `json:"single"`
		SpecialTokens map[string]struct {
			IDs []int `json:"ids"`
		} `json:"special_tokens"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return template{}, err
	}
	var t template
	seen := false
	for i, p := range cfg.Single {
		switch {
		case p.Sequence != nil:
			if p.Sequence.ID != "A" {
				return template{}, fmt.Errorf("single[%d]: sequence %q in a single template", i, p.Sequence.ID)
			}
			if seen {
				return template{}, errors.New("single: sequence A appears twice")
			}
			seen = true
		case p.SpecialToken != nil:
			tok, ok := cfg.SpecialTokens[p.SpecialToken.ID]
			if !ok {
				return template{}, fmt.Errorf("single[%d]: special token %q not in special_tokens", i, p.SpecialToken.ID)
			}
			if slices.ContainsFunc(tok.IDs, func(id int) bool { return id < 0 }) {
				return template{}, fmt.Errorf("special token %q: negative id", p.SpecialToken.ID)
			}
			if seen {
				t.after = append(t.after, tok.IDs...)
			} else {
				t.before = append(t.before, tok.IDs...)
			}
		default:
			return template{}, fmt.Errorf("single[%d]: want a SpecialToken or a Sequence", i)
		}
	}
	if !seen {
		return template{}, errors.New("single: no sequence $A")
	}
	return t, nil
}

// postProcessorSequence applies its post-processors in order.
type postProcessorSequence []postProcessor

func (s postProcessorSequence) process(ids []int) []int {
	for _, p := range s {
		ids = p.process(ids)
	}
	return ids
}

func (s postProcessorSequence) prefix() []int {
	// Each processor wraps the output of the previous one, so the last
	// prefix ends up first.
	var ids []int
	for _, p := range s {
		ids = append(append([]int(nil), p.prefix()...), ids...)
	}
	return ids
}
