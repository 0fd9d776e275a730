package runtime

import (
	"fmt"
	goruntime "runtime"
)

// SeqChunk is one sequence's share of a paged forward pass: new tokens at
// positions Pos, Pos+1, … whose earlier Pos tokens are already in Pages.
type SeqChunk struct {
	Tokens []int
	Pos    int
	// Pages is the sequence's block table: page i holds positions
	// [i·pageSize, (i+1)·pageSize). It must cover Pos+len(Tokens)
	// positions, and the pages written by this chunk must not be shared.
	Pages []int
	// Logits is how many of the chunk's last tokens get a row of logits.
	Logits int
}

// PagedRunner runs the tokens of many sequences through the model at
// once: every linear layer multiplies all their rows as one matrix, and
// attention runs per sequence over its pages.
type PagedRunner struct {
	m       *Model
	kv      *KVPages
	rope    ropeTable
	scratch scratch
	rows    []float32 // hidden states of the rows that get logits
}

// NewPagedRunner returns a runner over kv, for sequences up to the model's
// context length.
func (m *Model) NewPagedRunner(kv *KVPages) *PagedRunner {
	return &PagedRunner{m: m, kv: kv, rope: newRopeTable(m.Config, m.Config.MaxPositions)}
}

// Forward runs every chunk, stores their keys and values in their pages,
// and writes the requested logits to logits, chunk after chunk, one row of
// OutputSize per token.
func (r *PagedRunner) Forward(chunks []SeqChunk, logits []float32) error {
	cfg := r.m.Config
	n, outRows := 0, 0
	for i, c := range chunks {
		end := c.Pos + len(c.Tokens)
		switch {
		case len(c.Tokens) == 0:
			return fmt.Errorf("paged forward: chunk %d has no tokens", i)
		case c.Pos < 0 || end > cfg.MaxPositions:
			return fmt.Errorf("paged forward: chunk %d ends at position %d, beyond the context of %d", i, end, cfg.MaxPositions)
		case len(c.Pages)*r.kv.pageSize < end:
			return fmt.Errorf("paged forward: chunk %d: %d pages do not hold %d positions", i, len(c.Pages), end)
		case c.Logits < 0 || c.Logits > len(c.Tokens):
			return fmt.Errorf("paged forward: chunk %d asks for %d rows of logits from %d tokens", i, c.Logits, len(c.Tokens))
		}
		for _, p := range c.Pages {
			if p < 0 || p >= r.kv.Pages() {
				return fmt.Errorf("paged forward: chunk %d: page %d outside [0, %d)", i, p, r.kv.Pages())
			}
		}
		for _, id := range c.Tokens {
			if id < 0 || id >= cfg.VocabSize {
				return fmt.Errorf("paged forward: token id %d outside the vocabulary of %d", id, cfg.VocabSize)
			}
		}
		n += len(c.Tokens)
		outRows += c.Logits
	}
	vocab := r.m.OutputSize()
	if len(logits) < outRows*vocab {
		return fmt.Errorf("paged forward: logits buffer holds %d values, need %d", len(logits), outRows*vocab)
	}
	if n == 0 {
		return nil
	}
	h := cfg.HiddenSize
	sc := r.scratch.ensure(cfg, n)
	x := sc.x[:n*h]
	at := 0
	for _, c := range chunks {
		r.m.Embed(x[at*h:], c.Tokens)
		at += len(c.Tokens)
	}
	for l, ly := range r.m.layers {
		ly.forward(x, n, pagedLayer{r: r, layer: l, chunks: chunks}, sc, nil)
		if err := ly.err(); err != nil {
			return fmt.Errorf("paged forward: layer %d: %w", l, err)
		}
	}
	if outRows == 0 {
		return nil
	}
	rows := grow(&r.rows, outRows*h)
	at, out := 0, 0
	for _, c := range chunks {
		at += len(c.Tokens)
		copy(rows[out*h:(out+c.Logits)*h], x[(at-c.Logits)*h:at*h])
		out += c.Logits
	}
	r.m.Logits(logits[:outRows*vocab], rows, outRows)
	if err := r.m.head.Err(); err != nil {
		return fmt.Errorf("paged forward: head: %w", err)
	}
	return nil
}

// pagedLayer is one layer's view of the pages of a batch of chunks.
type pagedLayer struct {
	r      *PagedRunner
	layer  int
	chunks []SeqChunk
}

func (pl pagedLayer) attend(qkv, out []float32, n int, sc *scratch) {
	r, cfg := pl.r, pl.r.m.Config
	hd, qDim, kvDim := cfg.HeadDim, cfg.QDim(), cfg.KVDim()
	stride := qDim + 2*kvDim
	ps := r.kv.pageSize
	first := make([]int, len(pl.chunks)) // each chunk's first row
	at := 0
	for i, c := range pl.chunks {
		first[i] = at
		rows := qkv[at*stride : (at+len(c.Tokens))*stride]
		ropeRows(cfg, rows, len(c.Tokens), c.Pos, &r.rope)
		for t := range c.Tokens {
			pos := c.Pos + t
			page, slot := c.Pages[pos/ps], pos%ps
			row := rows[t*stride : (t+1)*stride]
			for g := 0; g < cfg.NumKVHeads; g++ {
				r.kv.store(page, pl.layer, 0, g, slot, row[qDim+g*hd:qDim+(g+1)*hd])
				r.kv.store(page, pl.layer, 1, g, slot, row[qDim+kvDim+g*hd:qDim+kvDim+(g+1)*hd])
			}
		}
		at += len(c.Tokens)
	}
	workers, work := goruntime.GOMAXPROCS(0), 0
	for _, c := range pl.chunks {
		work += attentionWork(cfg, len(c.Tokens), c.Pos+len(c.Tokens))
	}
	if work < minParallelAttention {
		workers = 1
	}
	bufs := sc.attentionWorkers(workers)
	groups := cfg.NumKVHeads
	parallelFor(len(pl.chunks)*groups, workers, func(w, item int) {
		c, g := pl.chunks[item/groups], item%groups
		buf := &bufs[w]
		total := c.Pos + len(c.Tokens)
		keys, values := grow(&buf.keys, total*hd), grow(&buf.values, total*hd)
		r.kv.gather(keys, c.Pages, total, pl.layer, 0, g)
		r.kv.gather(values, c.Pages, total, pl.layer, 1, g)
		row := first[item/groups]
		attendGroup(cfg, g, qkv[row*stride:], out[row*qDim:], len(c.Tokens), c.Pos, keys, values, buf)
	})
}
