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
	if err := checkForward(m, s.length, s.maxLen, tokens, logitsFrom, logits); err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	n, vocab := len(tokens), m.OutputSize()
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
		m.Logits(logits[:rows*vocab], x[logitsFrom*h:], rows)
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

// checkForward validates a Forward call of a sequence of m holding past
// of maxLen positions.
func checkForward(m *Model, past, maxLen int, tokens []int, logitsFrom int, logits []float32) error {
	cfg, n, vocab := m.Config, len(tokens), m.OutputSize()
	switch {
	case n == 0:
		return fmt.Errorf("no tokens")
	case past+n > maxLen:
		return fmt.Errorf("%d cached + %d new tokens exceed the context of %d", past, n, maxLen)
	case logitsFrom < 0 || logitsFrom > n:
		return fmt.Errorf("logitsFrom %d out of range [0, %d]", logitsFrom, n)
	case len(logits) < (n-logitsFrom)*vocab:
		return fmt.Errorf("logits buffer holds %d values, need %d", len(logits), (n-logitsFrom)*vocab)
	}
	for _, id := range tokens {
		if id < 0 || id >= cfg.VocabSize {
			return fmt.Errorf("token id %d outside the vocabulary of %d", id, cfg.VocabSize)
		}
	}
	return nil
}

// Logits applies the final norm and the head to rows of hidden states.
func (m *Model) Logits(dst, hidden []float32, rows int) {
	h := m.Config.HiddenSize
	m.head.MatMul(dst, hidden[:rows*h], rows)
	divideByRMS(dst[:rows*m.OutputSize()], hidden, rows, h, m.Config.RMSNormEps)
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
	// One worker per KV head, unless the work is too small to share.
	workers := cfg.NumKVHeads
	if attentionWork(cfg, n, kv.past+n) < minParallelAttention {
		workers = 1
	}
	bufs := sc.attentionWorkers(cfg.NumKVHeads)
	parallelFor(cfg.NumKVHeads, workers, func(_, g int) {
		head := kv.keys[g*kv.maxLen*hd : (g+1)*kv.maxLen*hd]
		vals := kv.values[g*kv.maxLen*hd : (g+1)*kv.maxLen*hd]
		attendGroup(cfg, g, qkv, out, n, kv.past, head, vals, &bufs[g])
	})
}
