package runtime

import (
	"fmt"
	"math"
	"sync"

	"github.com/qtk-dev/qtk/internal/gemm"
	"github.com/qtk-dev/qtk/model"
)

// Forward runs tokens through the model at the positions following the
// cached ones, appends their keys and values to the cache, and writes the
// logits of tokens[logitsFrom:] to logits, one row of VocabSize per token.
// logits may be nil when logitsFrom == len(tokens).
func (s *State) Forward(tokens []int, logitsFrom int, logits []float32) error {
	m, cfg := s.m, s.m.Config
	n := len(tokens)
	switch {
	case n == 0:
		return fmt.Errorf("forward: no tokens")
	case s.length+n > s.maxLen:
		return fmt.Errorf("forward: %d cached + %d new tokens exceed the context of %d", s.length, n, s.maxLen)
	case logitsFrom < 0 || logitsFrom > n:
		return fmt.Errorf("forward: logitsFrom %d out of range [0, %d]", logitsFrom, n)
	case len(logits) < (n-logitsFrom)*cfg.VocabSize:
		return fmt.Errorf("forward: logits buffer holds %d values, need %d", len(logits), (n-logitsFrom)*cfg.VocabSize)
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
		kv := kvCache{keys: s.keys[l], values: s.values[l], maxLen: s.maxLen, past: s.length}
		ly.forward(x, n, kv, &s.rope, sc, nil)
		if err := ly.err(); err != nil {
			return fmt.Errorf("forward: layer %d: %w", l, err)
		}
	}
	s.length += n
	if rows := n - logitsFrom; rows > 0 {
		m.Logits(logits[:rows*cfg.VocabSize], x[logitsFrom*h:], rows, sc.normed)
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

// storeKV applies RoPE to the new queries and keys in qkv and copies the
// keys and values into the cache.
func storeKV(cfg *model.Config, qkv []float32, n int, kv kvCache, rope *ropeTable) {
	hd := cfg.HeadDim
	qDim, kvDim := cfg.QDim(), cfg.KVDim()
	stride := qDim + 2*kvDim
	for t := 0; t < n; t++ {
		pos := kv.past + t
		cos, sin := rope.at(pos)
		row := qkv[t*stride : (t+1)*stride]
		for hq := 0; hq < cfg.NumHeads; hq++ {
			rotate(row[hq*hd:(hq+1)*hd], cos, sin)
		}
		for g := 0; g < cfg.NumKVHeads; g++ {
			k := row[qDim+g*hd : qDim+(g+1)*hd]
			rotate(k, cos, sin)
			at := (g*kv.maxLen + pos) * hd
			copy(kv.keys[at:at+hd], k)
			copy(kv.values[at:at+hd], row[qDim+kvDim+g*hd:qDim+kvDim+(g+1)*hd])
		}
	}
}

// attend computes causal attention of the n new queries over the whole
// cache, writing [n × qDim] to out. Each KV head and the query heads that
// share it form one pair of matrix products, run in parallel across KV
// heads.
func attend(cfg *model.Config, qkv, out []float32, n int, kv kvCache, sc *scratch) {
	var wg sync.WaitGroup
	for g := 0; g < cfg.NumKVHeads; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			attendGroup(cfg, g, qkv, out, n, kv, sc)
		}()
	}
	wg.Wait()
}

func attendGroup(cfg *model.Config, g int, qkv, out []float32, n int, kv kvCache, sc *scratch) {
	hd := cfg.HeadDim
	rep := cfg.NumHeads / cfg.NumKVHeads
	stride := cfg.QDim() + 2*cfg.KVDim()
	total := kv.past + n
	rows := rep * n

	// q holds the group's queries, row j·n+t for head g·rep+j at token t.
	q := grow(&sc.groupQ[g], rows*hd)
	for j := 0; j < rep; j++ {
		hq := g*rep + j
		for t := 0; t < n; t++ {
			copy(q[(j*n+t)*hd:(j*n+t+1)*hd], qkv[t*stride+hq*hd:t*stride+(hq+1)*hd])
		}
	}
	keys := kv.keys[g*kv.maxLen*hd : (g*kv.maxLen+total)*hd]
	values := kv.values[g*kv.maxLen*hd : (g*kv.maxLen+total)*hd]
	scores := grow(&sc.groupScores[g], rows*total)
	gemm.MatMulT(scores, q, keys, rows, total, hd)
	scale := float32(1 / math.Sqrt(float64(hd)))
	for r := 0; r < rows; r++ {
		row := scores[r*total : (r+1)*total]
		visible := kv.past + r%n + 1
		for i := range row[:visible] {
			row[i] *= scale
		}
		softmaxPrefix(row, visible)
	}
	o := q // the queries are no longer needed
	gemm.MatMul(o, scores, values, rows, hd, total)
	for j := 0; j < rep; j++ {
		hq := g*rep + j
		for t := 0; t < n; t++ {
			copy(out[t*cfg.QDim()+hq*hd:t*cfg.QDim()+(hq+1)*hd], o[(j*n+t)*hd:(j*n+t+1)*hd])
		}
	}
}

// grow returns (*buf)[:n], reallocating when the buffer is too small.
func grow(buf *[]float32, n int) []float32 {
	if cap(*buf) < n {
		*buf = make([]float32, n)
	}
	return (*buf)[:n]
}

// addInto adds src to dst elementwise.
func addInto(dst, src []float32) {
	for i, v := range src {
		dst[i] += v
	}
}
