package serving

import (
	"github.com/qtk-dev/qtk/runtime"
)

// pagedCache is one model's share of the engine: its page storage, the
// pool that hands the pages out, and the runner that computes over them.
type pagedCache struct {
	pool     *pagePool
	kv       *runtime.KVPages
	runner   *runtime.PagedRunner
	pageSize int
}

func newPagedCache(m *runtime.Model, pageSize, pages int, int8 bool) (*pagedCache, error) {
	kv, err := m.NewKVPages(pageSize, pages, int8)
	if err != nil {
		return nil, err
	}
	return &pagedCache{pool: newPagePool(pages), kv: kv, runner: m.NewPagedRunner(kv), pageSize: pageSize}, nil
}

// blockTable is one sequence's pages in one cache: page i holds positions
// [i·pageSize, (i+1)·pageSize), and the first computed positions are
// stored.
type blockTable struct {
	pages    []int
	computed int
	indexed  int // leading pages offered to the prefix index
}

// pagesFor is the number of pages that hold n positions.
func (c *pagedCache) pagesFor(n int) int { return (n + c.pageSize - 1) / c.pageSize }

// reserve makes bt cover positions [0, end) and the positions from
// bt.computed on writable: a shared page among them is copied first, and
// an indexed one leaves the prefix index. It reports false when the pool
// runs out; the pages taken so far stay in bt.
func (c *pagedCache) reserve(bt *blockTable, end int) bool {
	for i := bt.computed / c.pageSize; i < len(bt.pages) && i*c.pageSize < end; i++ {
		old := bt.pages[i]
		if c.pool.refs[old] == 1 {
			c.pool.unindex(old)
			continue
		}
		id, ok := c.pool.alloc()
		if !ok {
			return false
		}
		c.kv.Copy(id, old)
		c.pool.release(old)
		bt.pages[i] = id
	}
	for len(bt.pages) < c.pagesFor(end) {
		id, ok := c.pool.alloc()
		if !ok {
			return false
		}
		bt.pages = append(bt.pages, id)
	}
	return true
}

// truncate keeps the first n positions and frees the pages beyond them.
func (c *pagedCache) truncate(bt *blockTable, n int) {
	bt.computed = min(bt.computed, n)
	bt.indexed = min(bt.indexed, n/c.pageSize)
	keep := c.pagesFor(n)
	for _, id := range bt.pages[min(keep, len(bt.pages)):] {
		c.pool.release(id)
	}
	bt.pages = bt.pages[:min(keep, len(bt.pages))]
}

// share starts an empty table with the indexed pages that already hold a
// prefix of tokens. At least the last token is left to compute, since its
// logits are needed.
func (c *pagedCache) share(bt *blockTable, tokens []int) {
	parent := -1
	for i := 0; (i+1)*c.pageSize <= len(tokens); i++ {
		id, ok := c.pool.lookup(parent, tokens[i*c.pageSize:(i+1)*c.pageSize])
		if !ok {
			break
		}
		c.pool.retain(id)
		bt.pages = append(bt.pages, id)
		parent = id
	}
	bt.computed = min(len(bt.pages)*c.pageSize, len(tokens)-1)
	bt.indexed = bt.computed / c.pageSize
}

// index offers bt's full, computed pages to the prefix index.
func (c *pagedCache) index(bt *blockTable, tokens []int) {
	for ; (bt.indexed+1)*c.pageSize <= bt.computed; bt.indexed++ {
		parent := -1
		if bt.indexed > 0 {
			parent = bt.pages[bt.indexed-1]
		}
		i := bt.indexed
		c.pool.index(bt.pages[i], parent, tokens[i*c.pageSize:(i+1)*c.pageSize])
	}
}

// releaseAll frees every page of bt.
func (c *pagedCache) releaseAll(bt *blockTable) {
	c.truncate(bt, 0)
	bt.pages = nil
}
