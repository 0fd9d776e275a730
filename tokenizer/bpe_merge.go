package tokenizer

// A bpeWord is a pre-token being merged: a doubly linked list of symbols
// kept in a slice. Merging a symbol into its left neighbour marks it removed
// (size 0) instead of moving the slice.
type bpeWord struct {
	symbols []symbol
}

type symbol struct {
	id         int32
	prev, next int32 // indexes of the neighbours, -1 at the ends
	size       int32 // bytes of input covered; 0 once merged away
}

func (w *bpeWord) add(id, size int) {
	n := int32(len(w.symbols))
	prev := n - 1
	if prev >= 0 {
		w.symbols[prev].next = n
	}
	w.symbols = append(w.symbols, symbol{id: int32(id), prev: prev, next: -1, size: int32(size)})
}

// mergeAll applies the merges the way the library does (Word::merge_all):
// repeatedly merge the adjacent pair with the lowest rank, the leftmost one
// on ties, using a priority queue so the cost is O(n log n). Queue entries
// made stale by earlier merges are recognised and dropped when popped.
func (w *bpeWord) mergeAll(merges map[uint64]mergeRule) {
	syms := w.symbols
	if len(syms) < 2 {
		return
	}
	q := mergeQueue(make([]mergeCandidate, 0, len(syms)))
	for i := 0; i+1 < len(syms); i++ {
		if r, ok := merges[pairKey(syms[i].id, syms[i+1].id)]; ok {
			q = append(q, mergeCandidate{rank: r.rank, pos: int32(i), id: r.id})
		}
	}
	q.init()
	for len(q) > 0 {
		top := q.pop()
		left := &syms[top.pos]
		if left.size == 0 || left.next < 0 {
			continue // merged away, or nothing on its right any more
		}
		rightPos := left.next
		right := syms[rightPos]
		// The pair at this position may have changed since the entry was
		// queued; the library checks that it still merges into the same token.
		if r, ok := merges[pairKey(left.id, right.id)]; !ok || r.id != top.id {
			continue
		}
		left.id = top.id
		left.size += right.size
		left.next = right.next
		syms[rightPos].size = 0
		if right.next >= 0 {
			syms[right.next].prev = top.pos
		}
		if left.prev >= 0 {
			if r, ok := merges[pairKey(syms[left.prev].id, left.id)]; ok {
				q.push(mergeCandidate{rank: r.rank, pos: left.prev, id: r.id})
			}
		}
		if left.next >= 0 {
			if r, ok := merges[pairKey(left.id, syms[left.next].id)]; ok {
				q.push(mergeCandidate{rank: r.rank, pos: top.pos, id: r.id})
			}
		}
	}
}

// ids returns the ids of the symbols left after merging, in order.
func (w *bpeWord) ids() []int32 {
	ids := make([]int32, 0, len(w.symbols))
	for _, s := range w.symbols {
		if s.size != 0 {
			ids = append(ids, s.id)
		}
	}
	return ids
}

// A mergeCandidate is a queued merge of the symbol at pos with its right
// neighbour into token id.
type mergeCandidate struct {
	rank, pos, id int32
}

func (a mergeCandidate) less(b mergeCandidate) bool {
	return a.rank < b.rank || a.rank == b.rank && a.pos < b.pos
}

// mergeQueue is a 4-ary min-heap of candidates ordered by (rank, pos),
// written out rather than through container/heap to avoid interface calls.
// Four children per node make the heap shallower, which pays off for the
// large queues of long pre-tokens.
type mergeQueue []mergeCandidate

func (q mergeQueue) init() {
	for i := (len(q) - 2) / 4; i >= 0; i-- {
		q.down(i)
	}
}

func (q *mergeQueue) push(c mergeCandidate) {
	*q = append(*q, c)
	h := *q
	i := len(h) - 1
	for i > 0 {
		parent := (i - 1) / 4
		if !c.less(h[parent]) {
			break
		}
		h[i] = h[parent]
		i = parent
	}
	h[i] = c
}

func (q *mergeQueue) pop() mergeCandidate {
	h := *q
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	*q = h[:last]
	q.down(0)
	return top
}

func (q mergeQueue) down(i int) {
	n := len(q)
	if i >= n {
		return
	}
	c := q[i]
	for {
		first := 4*i + 1
		if first >= n {
			break
		}
		best := first
		for k := first + 1; k < min(first+4, n); k++ {
			if q[k].less(q[best]) {
				best = k
			}
		}
		if !q[best].less(c) {
			break
		}
		q[i] = q[best]
		i = best
	}
	q[i] = c
}
