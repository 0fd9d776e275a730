package runtime

import (
	"fmt"

	"github.com/qtk-dev/qtk/model"
)

// Forward runs tokens through the model at the positions following the
// cached ones, appends their keys and values to the cache, and writes the
// logits of tokens[logitsFrom:] to logits, one row of OutputSize per token.
// logits may be nil when logitsFrom == len(tokens).
func (s *State) Forward(tokens []int, logitsFrom int, logits []float32) error {
	m, cfg := s.m, s.m.Config
	n, vocab := len(tokens), s.m.OutputSize()
	switch {
	case n == 0:
		return fmt.Errorf("forward: no tokens")
	case s.length+n > s.maxLen:
		return fmt.Errorf("forward: %d cached + %d new tokens exceed the context of %d", s.length, n, s.maxLen)
	case logitsFrom < 0 || logitsFrom > n:
		return fmt.Errorf("forward: logitsFrom %d out of range [0, %d]", logitsFrom, n)
	case len(logits) < (n-logitsFrom)*vocab:
		return fmt.Errorf("forward: logits buffer holds %d values, need %d", len(logits), (n-logitsFrom)*vocab)
	}
	for _, id := range tokens {
		if id < 0 || id >= cfg.VocabSize {
			return fmt.Errorf("forward: token id %d outside the vocabulary of %d", id, cfg.VocabSize)
		}
	}
	h := cfg.HiddenSize
	sc := s.scratch.ensure(cfg, n)
	x := sc.x[:n*h]
	m.Embed(x, tokens)
	for l, ly := range m.layers {
		kv := contiguousKV{cfg: cfg, keys: s.keys[l], values: s.values[l], maxLen: s.maxLen, past: s.length, rope: &s.rope}
		ly.forward(x, n, kv, sc, nil)
		if err := ly.err(); err != nil {
			return fmt.Errorf("forward: layer %d: %w", l, err)
		}
	}
	s.length += n
	if rows := n - logitsFrom; rows > 0 {
		m.Logits(logits[:rows*vocab], x[logitsFrom*h:], rows, sc.normed)
		if err := m.head.Err(); err != nil {
			return fmt.Errorf("forward: head: %w", err)
		}
	}
	return nil
}

// Embed writes the embedding rows of tokens to x; ids must be valid.
func (m *Model) Embed(x []float32, tokens []int) {
	h := m.Config.HiddenSize
	for t, id := range tokens {
		copy(x[t*h:(t+1)*h], m.embed[id*h:(id+1)*h])
	}
}

// Logits applies the final norm and the head to rows of hidden states,
// using normed ([rows × hidden]) as scratch.
func (m *Model) Logits(dst, hidden []float32, rows int, normed []float32) {
	h := m.Config.HiddenSize
	rmsNorm(normed[:rows*h], hidden[:rows*h], m.norm, rows, m.Config.RMSNormEps)
	m.head.MatMul(dst, normed[:rows*h], rows)
}

// contiguousKV is one layer's key and value history in a State or a
// LayerRunner, laid out [kvHead][position][headDim] so each head's history
// is one contiguous matrix. past tokens are already in it.
type contiguousKV struct {
	cfg          *model.Config
	keys, values []float32
	maxLen, past int
	rope         *ropeTable
}

func (kv contiguousKV) attend(qkv, out []float32, n int, sc *scratch) {
	cfg := kv.cfg
	hd, qDim, kvDim := cfg.HeadDim, cfg.QDim(), cfg.KVDim()
	stride := qDim + 2*kvDim
	ropeRows(cfg, qkv, n, kv.past, kv.rope)
	for t := 0; t < n; t++ {
		row := qkv[t*stride : (t+1)*stride]
		for g := 0; g < cfg.NumKVHeads; g++ {
			at := (g*kv.maxLen + kv.past + t) * hd
			copy(kv.keys[at:at+hd], row[qDim+g*hd:qDim+(g+1)*hd])
			copy(kv.values[at:at+hd], row[qDim+kvDim+g*hd:qDim+kvDim+(g+1)*hd])
		}
	}
	// One worker per KV head.
	bufs := sc.attentionWorkers(cfg.NumKVHeads)
	parallelFor(cfg.NumKVHeads, cfg.NumKVHeads, func(_, g int) {
		head := kv.keys[g*kv.maxLen*hd : (g+1)*kv.maxLen*hd]
		vals := kv.values[g*kv.maxLen*hd : (g+1)*kv.maxLen*hd]
		attendGroup(cfg, g, qkv, out, n, kv.past, head, vals, &bufs[g])
	})
}
