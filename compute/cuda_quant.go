package compute

import (
	"github.com/qtk-dev/qtk/internal/cuda"
	"github.com/qtk-dev/qtk/internal/linalg"
)

// packRows is the rows of a weight a core packs at a time.
const packRows = 64

// gpuQuantLinear is a 4-bit weight resident on the device, packed for the
// kernels of internal/cuda: for the tensor cores (mma) where its shape
// allows, else in the plain layout (w). Short products (decode, and up to
// mmaGEMVMaxRows rows on the tensor cores) read the codes directly, longer
// ones dequantize the weight into a scratch and multiply it with cuBLAS
// (prefill): in float16 from the tensor-core layout, in TF32 from the
// plain one.
type gpuQuantLinear struct {
	hostProducts
	g   *gpu
	w   cuda.Int4    // the plain layout, unless mma holds the weight
	mma cuda.Int4MMA // the tensor-core layout, where held
	mem []*deviceMem // of the buffers
}

// mmaGEMVMaxRows is the most rows of x a product reads from the
// tensor-core layout, in blocks of 8, before it dequantizes the weight into
// float16 for cuBLAS instead. At Llama-2-7B's shapes on an H100
// (BenchmarkQuantPrefill, µs a product at 4096×4096, 4096×11008,
// 11008×4096) the blocks were faster at 16 rows (23.6, 69.6, 43.9 against
// 40.0, 92.9, 90.6) and slower or even at 32 (46.5, 149.6, 89.5 against
// 37.1, 93.4, 91.7).
const mmaGEMVMaxRows = 16

// int4Scratch is the device memory of the quantized products, grown as
// needed and only touched on the device's goroutine.
type int4Scratch struct {
	gathered    cuda.Buffer // x in the order of the codes' columns
	dequantized cuda.Buffer // a float32 or float16 weight
	halfX       cuda.Buffer // x as float16
}

func (s *int4Scratch) free(c *cuda.Ctx) {
	c.Free(s.gathered)
	c.Free(s.dequantized)
	c.Free(s.halfX)
}

// int4Packing is a weight laid out as cuda.Int4 describes, on the host.
type int4Packing struct {
	groupLen int
	codes    []uint32  // [out × in/8]
	params   []float32 // (scale, zero) pairs, [out × groups × 2]
	perm     []int32   // [in], nil when the columns keep their order
}

// packInt4 lays out a 4-bit weight for the kernels, its columns sorted by
// group. It reports false when the kernels cannot take the weight: other
// bit widths, widths not a multiple of 32, groups of other lengths than
// GroupSize.
func packInt4(q *QuantWeight) (int4Packing, bool) {
	perm, groupLen, ok := q.groupOrder()
	if !ok || q.Bits != 4 || !cuda.Int4Fits(q.In, groupLen) {
		return int4Packing{}, false
	}
	p := int4Packing{groupLen: groupLen, perm: perm}
	words := q.In / 8
	p.codes = make([]uint32, q.Out*words)
	linalg.ParallelFor(q.Out, packRows, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := q.Q[r*q.In : (r+1)*q.In]
			for j := range q.In {
				c := j
				if perm != nil {
					c = int(perm[j])
				}
				p.codes[r*words+j/8] |= uint32(row[c]) << (4 * (j % 8))
			}
		}
	})
	p.params = make([]float32, 2*len(q.Scale))
	for i, s := range q.Scale {
		p.params[2*i], p.params[2*i+1] = s, float32(q.Zero[i])
	}
	return p, true
}

// NewQuantLinear packs a 4-bit weight for the kernels; weights they
// cannot take are dequantized into a float32 linear.
func (g *gpu) NewQuantLinear(q QuantWeight) (Linear, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	p, ok := packInt4(&q)
	if !ok {
		return g.NewLinear(q.Dequantize(), q.Out, q.In)
	}
	l := &gpuQuantLinear{g: g, w: cuda.Int4{Out: q.Out, In: q.In, Groups: q.Groups(), GroupLen: p.groupLen}}
	var err error
	if cuda.Int4MMAFits(q.Out, q.In, p.groupLen) {
		var m int4MMAPacking
		if m, err = packInt4MMA(p, q.Out, q.In); err == nil {
			err = l.holdMMA(m, p.perm)
		}
	} else {
		err = l.hold(p)
	}
	if err != nil {
		l.Release()
		return nil, err
	}
	return l, nil
}

// hold allocates the device buffers of p and copies it there.
func (l *gpuQuantLinear) hold(p int4Packing) error {
	if err := holdSlice(l, &l.w.Codes, p.codes); err != nil {
		return err
	}
	if err := holdSlice(l, &l.w.Params, p.params); err != nil {
		return err
	}
	if p.perm != nil {
		if err := holdSlice(l, &l.w.Perm, p.perm); err != nil {
			return err
		}
	}
	return nil
}

// int4MMAPacking is a weight laid out as cuda.Int4MMA describes, on the
// host.
type int4MMAPacking struct {
	codes  []uint32
	params []float32 // float4 fold constants
}

// packInt4MMA lays out for the tensor-core kernels a weight [out×in]
// packed by packInt4.
func packInt4MMA(p int4Packing, out, in int) (int4MMAPacking, error) {
	codes, params, err := cuda.PackInt4MMA(p.codes, p.params, out, in, p.groupLen)
	return int4MMAPacking{codes: codes, params: params}, err
}

// holdMMA holds m, the tensor-core layout of l's weight, and perm (nil when
// the columns keep their order) on the device.
func (l *gpuQuantLinear) holdMMA(m int4MMAPacking, perm []int32) error {
	l.mma = cuda.Int4MMA{Out: l.w.Out, In: l.w.In, Groups: l.w.Groups, GroupLen: l.w.GroupLen}
	if err := holdSlice(l, &l.mma.Codes, m.codes); err != nil {
		return err
	}
	if err := holdSlice(l, &l.mma.Params, m.params); err != nil {
		return err
	}
	if perm != nil {
		return holdSlice(l, &l.mma.Perm, perm)
	}
	return nil
}

// holdSlice copies src into device memory owned by l and sets *dst to it.
func holdSlice[T int32 | uint32 | float32](l *gpuQuantLinear, dst *cuda.Buffer, src []T) error {
	m, err := hold(l.g, l, src)
	if err != nil {
		return err
	}
	l.mem = append(l.mem, m)
	*dst = m.buf
	return nil
}

func (l *gpuQuantLinear) MatMul(dst, x []float32, rows int) {
	l.matMul(l.g, l, dst, x, rows, l.w.Out, l.w.In)
}

func (l *gpuQuantLinear) matMulDevice(c *cuda.Ctx, dst, x cuda.Buffer, rows int) error {
	s := &l.g.int4
	perm, onMMA := l.w.Perm, l.mma.Codes != (cuda.Buffer{})
	if onMMA {
		perm = l.mma.Perm
	}
	if rows <= cuda.Int4MaxRows || onMMA && rows <= mmaGEMVMaxRows {
		if perm != (cuda.Buffer{}) {
			gathered, err := scratch(c, &s.gathered, 4*rows*l.w.In)
			if err != nil {
				return err
			}
			if err := c.GatherColumns(gathered, x, perm, rows, l.w.In); err != nil {
				return err
			}
			x = gathered
		}
		if onMMA {
			return c.Int4MMAGEMV(dst, x, l.mma, rows)
		}
		return c.Int4GEMV(dst, x, l.w, rows)
	}
	if onMMA {
		return l.matMulHalf(c, dst, x, rows)
	}
	w, err := scratch(c, &s.dequantized, 4*l.w.Out*l.w.In)
	if err != nil {
		return err
	}
	if err := c.Int4Dequantize(w, l.w); err != nil {
		return err
	}
	return c.MatMulTTF32(dst, x, w, rows, l.w.Out, l.w.In)
}

// halfXScale scales x into float16 for matMulHalf, a power of two (exact
// but for values below 2^-10, float16 subnormals), so that a perplexity's
// products take |x| up to 2^20, not float16's 65504. (The GEMV of
// decoding stages x unscaled: scaled there it measured slower, see
// bench/RESULTS.md.)
const halfXScale = 1.0 / 16

// matMulHalf is the product of many rows from the tensor-core layout: x
// and the weight, dequantized, in float16 on the tensor cores, as the
// GEMV takes x.
func (l *gpuQuantLinear) matMulHalf(c *cuda.Ctx, dst, x cuda.Buffer, rows int) error {
	s := &l.g.int4
	w, err := scratch(c, &s.dequantized, 2*l.w.Out*l.w.In)
	if err != nil {
		return err
	}
	xh, err := scratch(c, &s.halfX, 2*rows*l.w.In)
	if err != nil {
		return err
	}
	if err := c.ToHalf(xh, x, rows*l.w.In, halfXScale); err != nil {
		return err
	}
	if err := c.Int4MMADequantizeHalf(w, l.mma); err != nil {
		return err
	}
	return c.MatMulTHalf(dst, xh, w, rows, l.w.Out, l.w.In, 1/halfXScale)
}

func (l *gpuQuantLinear) Release() {
	for _, m := range l.mem {
		m.free()
	}
}
