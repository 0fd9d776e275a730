package serving

import (
	"container/heap"
	"hash/maphash"
	"slices"
)

// pagePool hands out cache pages with reference counts. A page shared by
// several sequences (a common prompt prefix) is freed when its last user
// releases it; a sequence that must write into a shared page copies it
// first.
//
// Full pages are indexed by their content: the tokens they hold and the
// page before them. A new sequence whose prompt starts with the same
// tokens takes those pages instead of computing them again.
type pagePool struct {
	free freePages
	refs []int
	// prefix maps a page's key to the page; key[p] is the key page p is
	// indexed under, when it is.
	prefix  map[prefixKey]int
	key     []prefixKey
	content [][]int // tokens of an indexed page, nil otherwise
	seed    maphash.Seed
}

// prefixKey identifies a full page by the page before it (-1 for the
// first) and a hash of its tokens; tokens are compared too on lookup.
type prefixKey struct {
	parent int
	hash   uint64
}

func newPagePool(pages int) *pagePool {
	p := &pagePool{
		refs:    make([]int, pages),
		prefix:  map[prefixKey]int{},
		key:     make([]prefixKey, pages),
		content: make([][]int, pages),
		seed:    maphash.MakeSeed(),
	}
	for i := 0; i < pages; i++ {
		p.free = append(p.free, i) // ascending: already a heap
	}
	return p
}

// freePages is a min-heap of page ids: the lowest free page is taken
// first, so the pages touched (and so allocated) stay few.
type freePages []int

func (f freePages) Len() int           { return len(f) }
func (f freePages) Less(i, j int) bool { return f[i] < f[j] }
func (f freePages) Swap(i, j int)      { f[i], f[j] = f[j], f[i] }
func (f *freePages) Push(x any)        { *f = append(*f, x.(int)) }
func (f *freePages) Pop() any {
	old := *f
	x := old[len(old)-1]
	*f = old[:len(old)-1]
	return x
}

func (p *pagePool) size() int      { return len(p.refs) }
func (p *pagePool) used() int      { return len(p.refs) - len(p.free) }
func (p *pagePool) available() int { return len(p.free) }

// alloc takes a free page with one reference.
func (p *pagePool) alloc() (int, bool) {
	if len(p.free) == 0 {
		return 0, false
	}
	id := heap.Pop(&p.free).(int)
	p.refs[id] = 1
	return id, true
}

// retain adds a reference to a page in use.
func (p *pagePool) retain(id int) { p.refs[id]++ }

// release drops a reference, freeing the page with its last one.
func (p *pagePool) release(id int) {
	p.refs[id]--
	if p.refs[id] > 0 {
		return
	}
	p.unindex(id)
	heap.Push(&p.free, id)
}

func (p *pagePool) hash(tokens []int) uint64 {
	var h maphash.Hash
	h.SetSeed(p.seed)
	for _, t := range tokens {
		var b [8]byte
		for i := range b {
			b[i] = byte(uint64(t) >> (8 * i))
		}
		h.Write(b[:])
	}
	return h.Sum64()
}

// index records that page id holds tokens after page parent (-1 for the
// first page), unless another page already does.
func (p *pagePool) index(id, parent int, tokens []int) {
	if p.content[id] != nil {
		return
	}
	k := prefixKey{parent, p.hash(tokens)}
	if _, taken := p.prefix[k]; taken {
		return
	}
	p.prefix[k] = id
	p.key[id] = k
	p.content[id] = slices.Clone(tokens)
}

// unindex forgets a page's content, before it is freed or written.
func (p *pagePool) unindex(id int) {
	if p.content[id] != nil {
		delete(p.prefix, p.key[id])
		p.content[id] = nil
	}
}

// lookup returns the page holding tokens after page parent.
func (p *pagePool) lookup(parent int, tokens []int) (int, bool) {
	id, ok := p.prefix[prefixKey{parent, p.hash(tokens)}]
	if !ok || !slices.Equal(p.content[id], tokens) {
		return 0, false
	}
	return id, true
}
