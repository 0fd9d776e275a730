package gemm

import (
	"fmt"
	"math"
	"sync"

	"github.com/qtk-dev/qtk/internal/linalg"
)

// Int4 is a weight B[n×k] of 4-bit codes, each row's columns in groups
// with a float32 scale and zero point of their own:
//
//	B[r][perm[j]] = (code[r][perm[j]] - zero[r][g]) · scale[r][g],  g = j / groupLen,
//
// held at an eighth of its float32 size. Products with up to int4MaxRows
// rows of A (decoding) are computed from the codes; longer ones dequantize
// B into a float32 packing, reused from call to call, and multiply as
// PackT(B).MatMul would, with the same results bit for bit. It is
// immutable and safe for concurrent use.
//
// The codes are kept in panels of int4Lanes rows, a stream per panel read
// front to back by the kernels: for each group, the negated zero points of
// the panel's rows, then the group's codes as chunks of int4Lanes words
// (word l of a chunk holds 8 consecutive columns of row l, column i in
// bits 4i to 4i+3), then the scales.
type Int4 struct {
	ks               *kernels
	n, k             int
	groupLen, groups int
	perm             []int32 // column j of the codes is column perm[j] of A; nil: j
	stream           []uint32
	panelWords       int
	// offsets[j] is where column j of the codes goes in a panel of the
	// float32 packing, in bytes; the padding past k goes to the spare
	// step at the panel's end, which products never read.
	offsets []int32
}

const (
	// int4Lanes is the number of weight rows of a panel, one per vector
	// lane of the AVX-512 kernels.
	int4Lanes = 16

	// int4MaxRows is the most rows of A multiplied from the codes.
	int4MaxRows = 8

	// minParallelInt4 is the least number of multiply-adds worth a
	// thread in a product from the codes: about 40 µs of work, well above
	// what waking a worker costs (several µs on virtual machines).
	minParallelInt4 = 1 << 21
)

// int4Kernel computes panels panels of 16 weight rows for m rows of A:
// y[b*ldy+r] for b < m and r < 16·panels. stream starts at the first
// panel's stream, the others following panelWords apart; x holds A's rows
// nibble-scaled and interleaved and sums their group sums (see
// Int4.prepare).
type int4Kernel struct {
	m, panels int
	run       func(stream []uint32, panelWords int, x, sums, y []float32, ldy, groups, groupChunks int)
}

// nibbleScale[i] undoes the factor 2^(4i) with which the kernels isolate
// nibble i < 7 of a word by a mask; nibble 7 is shifted down.
var nibbleScale = [8]float32{1, 0x1p-4, 0x1p-8, 0x1p-12, 0x1p-16, 0x1p-20, 0x1p-24, 1}

// PackInt4 packs a 4-bit weight: codes[n×k] (each below 16) in the order
// of A's columns, scale and zero [n×groups] with groups = ⌈k/groupLen⌉, and
// perm (nil for the identity), which lists A's columns group by group:
// column perm[j] belongs to group j/groupLen. groupLen must be a positive
// multiple of 8. perm is kept and must not change. It panics if the
// slices do not hold the shape.
func PackInt4(codes []uint8, scale, zero []float32, perm []int32, n, k, groupLen int) *Int4 {
	groups := 0
	if groupLen > 0 {
		groups = (k + groupLen - 1) / groupLen
	}
	if n <= 0 || k <= 0 || groupLen <= 0 || groupLen%8 != 0 || len(codes) < n*k ||
		len(scale) < n*groups || len(zero) < n*groups || (perm != nil && len(perm) != k) {
		panic(fmt.Sprintf("gemm: PackInt4: %d codes, %d scales, %d zeros, %d column indices for n=%d k=%d groupLen=%d",
			len(codes), len(scale), len(zero), len(perm), n, k, groupLen))
	}
	w := &Int4{ks: active, n: n, k: k, groupLen: groupLen, groups: groups, perm: perm}
	chunks := groupLen / 8
	groupWords := (2 + chunks) * int4Lanes
	w.panelWords = groups * groupWords
	panels := (n + int4Lanes - 1) / int4Lanes
	w.stream = make([]uint32, panels*w.panelWords)
	w.offsets = make([]int32, groups*groupLen)
	for j := range w.offsets {
		col := k
		if j < k {
			col = w.column(j)
		}
		w.offsets[j] = int32(4 * col * w.ks.nr)
	}
	// Panels are filled apart, over the cores (a one-off cost: a 7B
	// model's weights take seconds on one).
	linalg.ParallelFor(panels, packPanels, func(lo, hi int) {
		for r := lo * int4Lanes; r < min(n, hi*int4Lanes); r++ {
			q, l := r/int4Lanes, r%int4Lanes
			row := codes[r*k : (r+1)*k]
			for g := range groups {
				s := w.stream[q*w.panelWords+g*groupWords:]
				s[l] = math.Float32bits(-zero[r*groups+g])
				s[(1+chunks)*int4Lanes+l] = math.Float32bits(scale[r*groups+g])
				for j := g * groupLen; j < min(k, (g+1)*groupLen); j++ {
					c := (j - g*groupLen) / 8
					s[(1+c)*int4Lanes+l] |= uint32(row[w.column(j)]&0xF) << (4 * (j % 8))
				}
			}
		}
	})
	return w
}

// column is the column of A that column j of the codes multiplies.
func (w *Int4) column(j int) int {
	if w.perm == nil {
		return j
	}
	return int(w.perm[j])
}

// Rows returns n, the number of rows of B (columns of C).
func (w *Int4) Rows() int { return w.n }

// Cols returns k, the length of each row of B (columns of A).
func (w *Int4) Cols() int { return w.k }

// MatMul sets C[m×n] = A[m×k]·Bᵀ. It panics if a slice is shorter than its
// dimensions require.
//
// Up to int4MaxRows rows, each element of C is summed group by group, in
// float32 with fused multiply-adds: -zero·Σx over the group's columns of
// A plus code·x over its even columns in the order of the codes, code·x
// over its odd columns apart, the two added, and the groups' sums times
// their scales added up in order. Longer products round as
// PackT(B).MatMul does.
func (w *Int4) MatMul(c, a []float32, m int) {
	n, k := w.n, w.k
	checkDims("Int4.MatMul", len(c), len(a), n*k, m, n, k)
	if m == 0 {
		return
	}
	if m > int4MaxRows {
		w.matMulDequantized(c, a, m)
		return
	}
	j := int4Jobs.Get().(*int4Job)
	j.w, j.c = w, c
	j.batches = j.batches[:0]
	kp := w.groups * w.groupLen
	need := m * (kp + w.groups)
	if cap(j.buf) < need {
		j.buf = make([]float32, need)
	}
	buf := j.buf[:need]
	for r0 := 0; r0 < m; {
		ks := w.kernelsFor(m - r0)
		rows := ks[0].m
		x, sums := buf[:rows*kp], buf[rows*kp:rows*(kp+w.groups)]
		buf = buf[rows*(kp+w.groups):]
		w.prepare(x, sums, a[r0*k:], rows)
		j.batches = append(j.batches, int4Batch{r0: r0, ks: ks, x: x, sums: sums})
		r0 += rows
	}
	panels := (n + int4Lanes - 1) / int4Lanes
	j.parts = threads(int64(m)*int64(n)*int64(k), minParallelInt4)
	j.unit = 1
	for _, bt := range j.batches {
		j.unit = max(j.unit, bt.ks[0].panels)
	}
	j.parts = min(j.parts, (panels+j.unit-1)/j.unit)
	parallel(j, &j.done, j.parts)
	j.w, j.c = nil, nil
	int4Jobs.Put(j)
}

// kernelsFor returns the kernels for the most rows of A, up to rows, that
// one kernel takes: the widest first, then the one of a single panel.
func (w *Int4) kernelsFor(rows int) []int4Kernel {
	all := w.ks.int4
	for i, kn := range all {
		if kn.m <= rows {
			end := i
			for end < len(all) && all[end].m == kn.m {
				end++
			}
			return all[i:end]
		}
	}
	panic("gemm: no int4 kernel for one row")
}

// prepare writes rows of A for the kernels: x[j*rows+b] is column j of the
// codes' order of row b, times nibbleScale[j%8] (zero past k), and
// sums[g*rows+b] the plain float32 sum of row b over group g.
func (w *Int4) prepare(x, sums, a []float32, rows int) {
	k := w.k
	for b := range rows {
		row := a[b*k : (b+1)*k]
		for g := range w.groups {
			var s float32
			for j := g * w.groupLen; j < (g+1)*w.groupLen; j++ {
				v := float32(0)
				if j < k {
					v = row[w.column(j)]
				}
				s += v
				x[j*rows+b] = v * nibbleScale[j%8]
			}
			sums[g*rows+b] = s
		}
	}
}

var int4Jobs = sync.Pool{New: func() any { return new(int4Job) }}

// int4Batch is a few rows of A, prepared for the kernels ks.
type int4Batch struct {
	r0      int
	ks      []int4Kernel
	x, sums []float32
}

// int4Job computes a product from the codes, its panels split over the
// threads in runs of unit panels.
type int4Job struct {
	w       *Int4
	c       []float32
	batches []int4Batch
	buf     []float32
	parts   int
	unit    int
	done    sync.WaitGroup
}

func (j *int4Job) run(part int) {
	w, n := j.w, j.w.n
	panels := (n + int4Lanes - 1) / int4Lanes
	lo, hi := span(panels, j.unit, j.parts, part)
	full := min(hi, n/int4Lanes) // panels whose rows all exist
	chunks := w.groupLen / 8
	for _, bt := range j.batches {
		y := j.c[bt.r0*n:]
		q := lo
		for _, kn := range bt.ks {
			for ; q+kn.panels <= full; q += kn.panels {
				kn.run(w.stream[q*w.panelWords:], w.panelWords, bt.x, bt.sums, y[q*int4Lanes:], n, w.groups, chunks)
			}
		}
		if q < hi {
			// The last panel, part padding: computed aside.
			kn := bt.ks[len(bt.ks)-1]
			var tmp [int4MaxRows * int4Lanes]float32
			kn.run(w.stream[q*w.panelWords:], w.panelWords, bt.x, bt.sums, tmp[:], int4Lanes, w.groups, chunks)
			for b := range kn.m {
				copy(y[b*n+q*int4Lanes:(b+1)*n], tmp[b*int4Lanes:])
			}
		}
	}
}

// int4GoKernel is the portable kernel, for any m and panels.
func int4GoKernel(m, panels int) int4Kernel {
	return int4Kernel{m: m, panels: panels, run: func(stream []uint32, panelWords int, x, sums, y []float32, ldy, groups, groupChunks int) {
		int4PanelsGo(m, panels, stream, panelWords, x, sums, y, ldy, groups, groupChunks)
	}}
}

// int4Go serves any number of rows up to int4MaxRows, one panel at a time.
var int4Go = []int4Kernel{
	int4GoKernel(8, 1), int4GoKernel(7, 1), int4GoKernel(6, 1), int4GoKernel(5, 1),
	int4GoKernel(4, 1), int4GoKernel(3, 1), int4GoKernel(2, 1), int4GoKernel(1, 1),
}

// int4PanelsGo is the kernels' arithmetic written out, the 16 lanes of a
// panel side by side: per lane and row of A the same operations in the
// same order, the multiply-adds fused where the compiler fuses them (the
// results then equal the assembly's, else they differ by rounding).
func int4PanelsGo(m, panels int, stream []uint32, panelWords int, x, sums, y []float32, ldy, groups, groupChunks int) {
	groupWords := (2 + groupChunks) * int4Lanes
	for p := range panels {
		for b := range m {
			var total [int4Lanes]float32
			for g := range groups {
				s := stream[p*panelWords+g*groupWords : p*panelWords+(g+1)*groupWords]
				var even, odd [int4Lanes]float32
				for l, z := range s[:int4Lanes] {
					even[l] = math.Float32frombits(z) * sums[g*m+b]
				}
				for c := range groupChunks {
					words := (*[int4Lanes]uint32)(s[(1+c)*int4Lanes:])
					xs := x[(g*groupChunks+c)*8*m:]
					for i := 0; i < 8; i += 2 {
						xe, xo := xs[i*m+b], xs[(i+1)*m+b]
						me, mo := uint32(0xF)<<(4*i), uint32(0xF)<<(4*(i+1))
						if i == 6 {
							for l, w := range words {
								even[l] += float32(w&me) * xe
								odd[l] += float32(w>>28) * xo
							}
							continue
						}
						for l, w := range words {
							even[l] += float32(w&me) * xe
							odd[l] += float32(w&mo) * xo
						}
					}
				}
				scale := s[(1+groupChunks)*int4Lanes:]
				for l := range total {
					total[l] += math.Float32frombits(scale[l]) * (even[l] + odd[l])
				}
			}
			copy(y[b*ldy+p*int4Lanes:], total[:])
		}
	}
}

// dequantized is a float32 packing of an Int4's weight for the longer
// products, kept between calls.
var dequantized = sync.Pool{New: func() any { return new([]float32) }}

// matMulDequantized multiplies by the weight dequantized into the layout
// of PackT with the kernels of w.
func (w *Int4) matMulDequantized(c, a []float32, m int) {
	n, k, nr := w.n, w.k, w.ks.nr
	stride := k*nr + nr // as packT lays it out
	size := (n + nr - 1) / nr * stride
	buf := dequantized.Get().(*[]float32)
	if cap(*buf) < size {
		*buf = make([]float32, size)
	}
	data := (*buf)[:size]
	panels := (n + int4Lanes - 1) / int4Lanes
	if covered := panels * int4Lanes; covered%nr != 0 {
		// The last packing panel has rows past the codes' panels: zero.
		last := data[covered/nr*stride:]
		for p := range k {
			clear(last[p*nr+covered%nr : (p+1)*nr])
		}
	}
	d := &dequantizeJob{w: w, data: data, stride: stride}
	d.parts = threads(int64(n)*int64(k), minParallelThin)
	d.parts = min(d.parts, panels)
	parallel(d, &d.done, d.parts)
	mul(w.ks, c, a, nil, data, stride, true, m, n, k)
	dequantized.Put(buf)
}

// dequantizeJob writes the float32 packing of an Int4, split by panels.
type dequantizeJob struct {
	w      *Int4
	data   []float32
	stride int
	parts  int
	done   sync.WaitGroup
}

func (d *dequantizeJob) run(part int) {
	w, nr := d.w, d.w.ks.nr
	panels := (w.n + int4Lanes - 1) / int4Lanes
	lo, hi := span(panels, 1, d.parts, part)
	for q := lo; q < hi; q++ {
		r0 := q * int4Lanes
		dst := d.data[r0/nr*d.stride+r0%nr : (r0/nr+1)*d.stride]
		w.ks.int4Dequantize(w.stream[q*w.panelWords:(q+1)*w.panelWords], dst, w.offsets, w.groups, w.groupLen/8)
	}
}

// int4DequantizeGo writes the rows of a panel of codes, whose stream is
// stream, column j at dst[offsets[j]/4:] (16 floats), as
// (code - zero)·scale.
func int4DequantizeGo(stream []uint32, dst []float32, offsets []int32, groups, groupChunks int) {
	groupWords := (2 + groupChunks) * int4Lanes
	for g := range groups {
		s := stream[g*groupWords : (g+1)*groupWords]
		negZero := s[:int4Lanes]
		scale := s[(1+groupChunks)*int4Lanes:]
		for c := range groupChunks {
			words := s[(1+c)*int4Lanes : (2+c)*int4Lanes]
			for i := range 8 {
				out := dst[offsets[(g*groupChunks+c)*8+i]/4:][:int4Lanes]
				for l, word := range words {
					code := float32(word >> (4 * i) & 0xF)
					out[l] = (code + math.Float32frombits(negZero[l])) * math.Float32frombits(scale[l])
				}
			}
		}
	}
}
