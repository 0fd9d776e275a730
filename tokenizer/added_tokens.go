package tokenizer

import (
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// An addedToken is an entry of tokenizer.json's "added_tokens": a token
// found in the text as a whole before the model sees it.
type addedToken struct {
	content    string
	special    bool // skipped by Decode with skipSpecial
	singleWord bool // only matches between non-word characters
	lstrip     bool // swallows whitespace on its left
	rstrip     bool // swallows whitespace on its right
	normalized bool // matched in the normalized text, not the raw text
}

// addedTokenJSON is the form of an added token in tokenizer.json. The id is
// not read: see newAddedVocab.
type addedTokenJSON struct {
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized *bool  `json:"normalized"`
	Special    bool   `json:"special"`
}

func (j addedTokenJSON) token() addedToken {
	t := addedToken{
		content:    j.Content,
		special:    j.Special,
		singleWord: j.SingleWord,
		lstrip:     j.LStrip,
		rstrip:     j.RStrip,
		normalized: !j.Special, // the library's default
	}
	if j.Normalized != nil {
		t.normalized = *j.Normalized
	}
	return t
}

// addedVocab holds the added tokens and finds them in text.
type addedVocab struct {
	ids     map[string]int // content → id
	byID    map[int]addedToken
	special map[string]bool // contents of the special tokens
	// decodeForm holds the normalized content of normalized tokens whose
	// normalization changes them: the library decodes those in that form.
	decodeForm map[int]string

	raw        tokenMatcher // tokens matched in the input text
	normalized tokenMatcher // tokens matched in the normalized text
}

// newAddedVocab registers tokens in order, the way the library's
// AddedVocabulary::add_tokens does. The library does not use the ids in the
// file: a token already known (added, or in the model) keeps that id, and a
// new one takes the next id after the model vocabulary.
func newAddedVocab(tokens []addedToken, model tokenModel, n normalizer) *addedVocab {
	v := &addedVocab{
		ids:        make(map[string]int),
		byID:       make(map[int]addedToken),
		special:    make(map[string]bool),
		decodeForm: make(map[int]string),
	}
	next := model.size()
	for _, t := range tokens {
		if t.content == "" {
			continue
		}
		id, ok := v.ids[t.content]
		if ok && v.byID[id] == t {
			continue
		}
		if !ok {
			id, ok = model.id(t.content)
		}
		if !ok {
			id = next
			next++
		}
		if t.normalized && n != nil {
			if form := n.normalize(textPiece(t.content, 0)).text; form != t.content {
				v.decodeForm[id] = form
			}
		}
		v.ids[t.content] = id
		v.byID[id] = t
		if t.special {
			v.special[t.content] = true
		}
	}
	for _, id := range slices.Sorted(maps.Keys(v.byID)) {
		t := v.byID[id]
		if !t.normalized {
			v.raw.add(t.content, id)
			continue
		}
		content := t.content
		if n != nil {
			content = n.normalize(textPiece(content, 0)).text
		}
		v.normalized.add(content, id)
	}
	return v
}

// token returns the string of an added token id, as Decode sees it.
func (v *addedVocab) token(id int) (string, bool) {
	t, ok := v.byID[id]
	if !ok {
		return "", false
	}
	if form, ok := v.decodeForm[id]; ok {
		return form, true
	}
	return t.content, true
}

func (v *addedVocab) isSpecial(token string) bool {
	return v.special[token]
}

// split cuts the added tokens out of text, normalizing what lies between
// them (the library's AddedVocabulary::extract_and_normalize): tokens that
// match raw text are found first, then the others in the normalized text.
func (v *addedVocab) split(text string, n normalizer) []piece {
	raw := v.extract(textPiece(text, firstCharLen(text)), &v.raw, nil)
	out := make([]piece, 0, len(raw))
	for _, p := range raw {
		if p.id >= 0 {
			out = append(out, p)
			continue
		}
		if n != nil {
			p = n.normalize(p)
		}
		out = v.extract(p, &v.normalized, out)
	}
	return out
}

// extract appends to out the pieces of p: the tokens m finds and the
// non-empty text around them. This follows AddedVocabulary::find_matches,
// including how single_word, lstrip and rstrip adjust each match.
func (v *addedVocab) extract(p piece, m *tokenMatcher, out []piece) []piece {
	s := p.text
	done := 0 // end of the last token, in s
	for pos := 0; ; {
		start, stop, id, ok := m.next(s, pos)
		if !ok {
			break
		}
		pos = stop
		tok := v.byID[id]
		if tok.singleWord {
			wordBefore := start > 0 && endsWithWordChar(s[:start])
			wordAfter := stop < len(s) && startsWithWordChar(s[stop:])
			if wordBefore || wordAfter {
				continue
			}
		}
		if tok.lstrip {
			start = max(len(strings.TrimRightFunc(s[:start], unicode.IsSpace)), done)
		}
		if tok.rstrip {
			stop = len(s) - len(strings.TrimLeftFunc(s[stop:], unicode.IsSpace))
		}
		if start > done {
			out = appendText(out, p.sub(done, start))
		}
		out = append(out, piece{id: id})
		done = stop
	}
	if done < len(s) {
		out = appendText(out, p.sub(done, len(s)))
	}
	return out
}

func appendText(out []piece, p piece) []piece {
	if p.text == "" {
		return out
	}
	return append(out, p)
}

func endsWithWordChar(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return isWordChar(r)
}

func startsWithWordChar(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return isWordChar(r)
}

// tokenMatcher finds the leftmost-longest occurrence of a set of strings
// (what the library's Aho-Corasick automaton with MatchKind::LeftmostLongest
// finds), with a byte trie walked from each position.
type tokenMatcher struct {
	nodes []trieNode // nodes[0] is the root
	first [256]bool  // bytes that start some string
}

type trieNode struct {
	next map[byte]int32
	id   int // id of the string ending here, or -1
}

// add adds a string with its token id. Of equal strings the first added
// wins.
func (m *tokenMatcher) add(content string, id int) {
	if content == "" {
		return
	}
	if len(m.nodes) == 0 {
		m.nodes = []trieNode{{id: -1}}
	}
	m.first[content[0]] = true
	n := int32(0)
	for i := 0; i < len(content); i++ {
		child, ok := m.nodes[n].next[content[i]]
		if !ok {
			if m.nodes[n].next == nil {
				m.nodes[n].next = make(map[byte]int32)
			}
			child = int32(len(m.nodes))
			m.nodes[n].next[content[i]] = child
			m.nodes = append(m.nodes, trieNode{id: -1})
		}
		n = child
	}
	if m.nodes[n].id < 0 {
		m.nodes[n].id = id
	}
}

// next returns the leftmost-longest match in s at or after pos.
func (m *tokenMatcher) next(s string, pos int) (start, stop, id int, ok bool) {
	if len(m.nodes) == 0 {
		return 0, 0, 0, false
	}
	for i := pos; i < len(s); i++ {
		if !m.first[s[i]] {
			continue
		}
		stop, id = -1, -1
		n := int32(0)
		for j := i; j < len(s); j++ {
			child, ok := m.nodes[n].next[s[j]]
			if !ok {
				break
			}
			n = child
			if m.nodes[n].id >= 0 {
				stop, id = j+1, m.nodes[n].id
			}
		}
		if stop >= 0 {
			return i, stop, id, true
		}
	}
	return 0, 0, 0, false
}
