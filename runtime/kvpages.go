package runtime

import (
	"fmt"
	"math"

	"github.com/qtk-dev/qtk/model"
)

// KVPages stores the keys and values of many sequences in fixed-size pages
// of pageSize positions, each page holding every layer's keys and values
// for its positions. Which sequence owns which page is the caller's
// business (a block table per sequence); KVPages only stores. A page's
// memory is allocated the first time it is written, so a large budget
// costs nothing until it is used.
//
// Keys and values are float32, or int8 with one float32 scale per head
// vector (absmax/127) when quantized.
type KVPages struct {
	cfg      *model.Config
	pageSize int
	int8     bool
	// Per page, nil until first written: [layer][k,v][kvHead][slot][headDim].
	f32 [][]float32
	q8  [][]int8
	// Per page in int8 mode: the scales [layer][k,v][kvHead][slot].
	scales [][]float32
}

// NewKVPages returns storage for pages pages of pageSize positions each.
func (m *Model) NewKVPages(pageSize, pages int, quantized bool) (*KVPages, error) {
	if pageSize < 1 || pages < 1 {
		return nil, fmt.Errorf("kv pages: need a positive page size and page count, got %d and %d", pageSize, pages)
	}
	p := &KVPages{cfg: m.Config, pageSize: pageSize, int8: quantized}
	if quantized {
		p.q8 = make([][]int8, pages)
		p.scales = make([][]float32, pages)
	} else {
		p.f32 = make([][]float32, pages)
	}
	return p, nil
}

// KVPageBytes is the memory of one page of pageSize positions for cfg.
func KVPageBytes(cfg *model.Config, pageSize int, quantized bool) int64 {
	vectors := int64(cfg.NumLayers) * 2 * int64(cfg.NumKVHeads) * int64(pageSize)
	if quantized {
		return vectors * (int64(cfg.HeadDim) + 4)
	}
	return vectors * int64(cfg.HeadDim) * 4
}

// PageSize is the number of positions per page.
func (p *KVPages) PageSize() int { return p.pageSize }

// Pages is the number of pages.
func (p *KVPages) Pages() int { return max(len(p.f32), len(p.q8)) }

// PageBytes is the memory of one page.
func (p *KVPages) PageBytes() int64 { return KVPageBytes(p.cfg, p.pageSize, p.int8) }

// vectors is the number of head vectors in a page.
func (p *KVPages) vectors() int {
	return p.cfg.NumLayers * 2 * p.cfg.NumKVHeads * p.pageSize
}

// ensure allocates page's memory.
func (p *KVPages) ensure(page int) {
	if p.int8 {
		if p.q8[page] == nil {
			p.q8[page] = make([]int8, p.vectors()*p.cfg.HeadDim)
			p.scales[page] = make([]float32, p.vectors())
		}
		return
	}
	if p.f32[page] == nil {
		p.f32[page] = make([]float32, p.vectors()*p.cfg.HeadDim)
	}
}

// Copy copies the contents of page src into page dst (copy-on-write of a
// shared page).
func (p *KVPages) Copy(dst, src int) {
	p.ensure(dst)
	p.ensure(src)
	if p.int8 {
		copy(p.q8[dst], p.q8[src])
		copy(p.scales[dst], p.scales[src])
		return
	}
	copy(p.f32[dst], p.f32[src])
}

// vector is the index of a head vector within a page; kind 0 is keys, 1
// values.
func (p *KVPages) vector(layer, kind, head, slot int) int {
	return ((layer*2+kind)*p.cfg.NumKVHeads+head)*p.pageSize + slot
}

// store writes one head vector.
func (p *KVPages) store(page, layer, kind, head, slot int, v []float32) {
	p.ensure(page)
	hd := p.cfg.HeadDim
	at := p.vector(layer, kind, head, slot)
	if !p.int8 {
		copy(p.f32[page][at*hd:(at+1)*hd], v)
		return
	}
	var absMax float32
	for _, x := range v {
		absMax = max(absMax, float32(math.Abs(float64(x))))
	}
	scale := absMax / 127
	p.scales[page][at] = scale
	dst := p.q8[page][at*hd : (at+1)*hd]
	if scale == 0 {
		clear(dst)
		return
	}
	inv := 1 / scale
	for i, x := range v {
		dst[i] = int8(math.Round(float64(x * inv)))
	}
}

// gather writes the first total positions of one head's keys or values,
// spread over pages, to dst [total × headDim].
func (p *KVPages) gather(dst []float32, pages []int, total, layer, kind, head int) {
	hd := p.cfg.HeadDim
	for i := 0; i*p.pageSize < total; i++ {
		n := min(p.pageSize, total-i*p.pageSize)
		at := p.vector(layer, kind, head, 0)
		out := dst[i*p.pageSize*hd : (i*p.pageSize+n)*hd]
		if !p.int8 {
			copy(out, p.f32[pages[i]][at*hd:(at+n)*hd])
			continue
		}
		q, scales := p.q8[pages[i]][at*hd:(at+n)*hd], p.scales[pages[i]][at:at+n]
		for s, scale := range scales {
			for j := s * hd; j < (s+1)*hd; j++ {
				out[j] = float32(q[j]) * scale
			}
		}
	}
}
