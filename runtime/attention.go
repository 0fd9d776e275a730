package runtime

import (
	"math"
	"sync"

	"github.com/qtk-dev/qtk/internal/gemm"
	"github.com/qtk-dev/qtk/model"
)

// kvHistory is where a layer's attention keeps its keys and values: one
// contiguous cache for a State, pages for a PagedRunner. attend rotates the
// queries and keys of the n new rows of qkv by their positions, stores the
// keys and values, and writes the causal attention output [n × qDim] to
// out.
type kvHistory interface {
	attend(qkv, out []float32, n int, sc *scratch)
}

// groupScratch is one attention worker's buffers: a KV group's queries and
// then its outputs [rep·rows × headDim], its scores [rep·rows × history],
// and, for paged caches, the group's keys and values gathered into
// [history × headDim].
type groupScratch struct {
	q, scores, keys, values []float32
}

// ropeRows rotates the queries and keys of n rows of qkv, the first at
// position first.
func ropeRows(cfg *model.Config, qkv []float32, n, first int, rope *ropeTable) {
	hd, qDim := cfg.HeadDim, cfg.QDim()
	stride := qDim + 2*cfg.KVDim()
	for t := 0; t < n; t++ {
		cos, sin := rope.at(first + t)
		row := qkv[t*stride : (t+1)*stride]
		for hq := 0; hq < cfg.NumHeads; hq++ {
			rotate(row[hq*hd:(hq+1)*hd], cos, sin)
		}
		for g := 0; g < cfg.NumKVHeads; g++ {
			rotate(row[qDim+g*hd:qDim+(g+1)*hd], cos, sin)
		}
	}
}

// attendGroup computes the causal attention of KV head g and the query
// heads that share it, for n new rows of qkv whose keys and values follow
// past earlier ones: keys and values hold the group's [past+n × headDim]
// history. The query heads of the group form one pair of matrix products.
func attendGroup(cfg *model.Config, g int, qkv, out []float32, n, past int, keys, values []float32, buf *groupScratch) {
	hd := cfg.HeadDim
	rep := cfg.NumHeads / cfg.NumKVHeads
	qDim := cfg.QDim()
	stride := qDim + 2*cfg.KVDim()
	total := past + n
	rows := rep * n

	// q holds the group's queries, row j·n+t for head g·rep+j at token t.
	q := grow(&buf.q, rows*hd)
	for j := 0; j < rep; j++ {
		hq := g*rep + j
		for t := 0; t < n; t++ {
			copy(q[(j*n+t)*hd:(j*n+t+1)*hd], qkv[t*stride+hq*hd:t*stride+(hq+1)*hd])
		}
	}
	scores := grow(&buf.scores, rows*total)
	gemm.MatMulT(scores, q, keys[:total*hd], rows, total, hd)
	scale := float32(1 / math.Sqrt(float64(hd)))
	for r := 0; r < rows; r++ {
		row := scores[r*total : (r+1)*total]
		visible := past + r%n + 1
		for i := range row[:visible] {
			row[i] *= scale
		}
		softmaxPrefix(row, visible)
	}
	o := q // the queries are no longer needed
	gemm.MatMul(o, scores, values[:total*hd], rows, hd, total)
	for j := 0; j < rep; j++ {
		hq := g*rep + j
		for t := 0; t < n; t++ {
			copy(out[t*qDim+hq*hd:t*qDim+(hq+1)*hd], o[(j*n+t)*hd:(j*n+t+1)*hd])
		}
	}
}

// minParallelAttention is the least attention work, in multiply-adds,
// worth more than one goroutine: starting and waking one costs several
// µs, more than a decoding step's attention over a short history.
const minParallelAttention = 1 << 20

// attentionWork is the multiply-adds of attending n new rows over a
// history of total positions (scores and weighted values).
func attentionWork(cfg *model.Config, n, total int) int {
	return 2 * n * total * cfg.HeadDim * cfg.NumHeads
}

// parallelFor calls fn(worker, item) for every item in [0, items), on up to
// workers goroutines; each worker index is used by one goroutine at a time.
func parallelFor(items, workers int, fn func(worker, item int)) {
	workers = min(workers, items)
	if workers <= 1 {
		for i := 0; i < items; i++ {
			fn(0, i)
		}
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < items; i += workers {
				fn(w, i)
			}
		}()
	}
	wg.Wait()
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
