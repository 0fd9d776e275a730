package hf

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/qtk-dev/qtk/quant"
)

// roundTripConfigs are the format variants the round-trip tests cover.
func roundTripConfigs() []Config {
	var cs []Config
	for _, bits := range []int{4, 8} {
		for _, group := range []int{32, 128, -1} {
			for _, sym := range []bool{false, true} {
				s := quant.Scheme{Bits: bits, GroupSize: group, Symmetric: sym}
				for _, f := range []Format{GPTQ, AWQ, CompressedTensors} {
					if f == AWQ && bits != 4 {
						continue
					}
					c, err := NewConfig(f, s)
					if err != nil {
						panic(err)
					}
					cs = append(cs, c)
					if f != AWQ && group > 0 {
						c.ActOrder = true
						cs = append(cs, c)
					}
				}
				if !sym {
					c, _ := NewConfig(GPTQ, s)
					c.Scheme.MinZero, c.GPTQv2 = 0, true
					cs = append(cs, c)
				}
			}
		}
		c, _ := NewConfig(CompressedTensors, quant.Scheme{Bits: bits, GroupSize: 64, BF16Scales: true})
		cs = append(cs, c)
	}
	return cs
}

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, c := range roundTripConfigs() {
		name := fmt.Sprintf("%s %+v act-order=%v v2=%v %s", c.Format, c.Scheme, c.ActOrder, c.GPTQv2, c.ScaleDType)
		t.Run(name, func(t *testing.T) {
			// 208 rows: the unpackers' blocks of 64 rows, and a last one
			// of 16.
			want := randomTensor(rng, 208, 256, c.Scheme, c.ActOrder)
			ps, err := Pack(c, want)
			if err != nil {
				t.Fatal(err)
			}
			checkSpecWords(t, c, want, ps)
			got, err := Unpack(c, PackedSource(ps), 208, 256)
			if err != nil {
				t.Fatal(err)
			}
			checkSameTensor(t, got, want)
		})
	}
}

// checkSpecWords compares the packed weights and zero points with a
// transcription of the reference pack loops, run on the tensor as the
// reference tools hold it (intweight = Qᵀ, [in, out]).
func checkSpecWords(t *testing.T, c Config, q *quant.Tensor, ps []Packed) {
	t.Helper()
	bits, out, in, groups := q.Scheme.Bits, q.Out, q.In, q.Scheme.Groups(q.In)
	f := 32 / bits
	intweight := func(i, n int) uint32 { return uint32(q.Q[n*in+i]) }
	zeros := func(g, n int) uint32 { return uint32(q.Zero[n*groups+g]) }
	var qweight, qzeros []uint32
	var wname, zname string
	switch c.Format {
	case GPTQ:
		// qweight[row, n] |= intweight[row*f + j, n] << (bits*j)
		wname, zname = "qweight", "qzeros"
		qweight = make([]uint32, in/f*out)
		for row := range in / f {
			for j := range f {
				for n := range out {
					qweight[row*out+n] |= intweight(row*f+j, n) << (bits * j)
				}
			}
		}
		// zeros -= 1 (v1); qzeros[g, col] |= zeros[g, col*f + j] << (bits*j)
		sub := uint32(1)
		if c.GPTQv2 {
			sub = 0
		}
		qzeros = make([]uint32, groups*out/f)
		for col := range out / f {
			for j := range f {
				for g := range groups {
					qzeros[g*out/f+col] |= (zeros(g, col*f+j) - sub) << (bits * j)
				}
			}
		}
	case AWQ:
		// qweight[:, col] |= intweight[:, col*8 + order_map[i]] << (4*i)
		wname, zname = "qweight", "qzeros"
		order := []int{0, 2, 4, 6, 1, 3, 5, 7}
		qweight = make([]uint32, in*out/8)
		qzeros = make([]uint32, groups*out/8)
		for col := range out / 8 {
			for i := range 8 {
				for r := range in {
					qweight[r*out/8+col] |= intweight(r, col*8+order[i]) << (4 * i)
				}
				for g := range groups {
					qzeros[g*out/8+col] |= zeros(g, col*8+order[i]) << (4 * i)
				}
			}
		}
	default:
		// (value + offset) packed densely: element i at bit i*bits; the
		// weight along the input dimension, the zero point along the output
		wname, zname = "weight_packed", "weight_zero_point"
		cols := (in*bits + 31) / 32
		qweight = make([]uint32, out*cols)
		for n := range out {
			for i := range in {
				qweight[n*cols+i*bits/32] |= intweight(i, n) << (i * bits % 32)
			}
		}
		if !q.Scheme.Symmetric {
			rows := (out*bits + 31) / 32
			qzeros = make([]uint32, rows*groups)
			for g := range groups {
				for n := range out {
					qzeros[(n*bits/32)*groups+g] |= zeros(g, n) << (n * bits % 32)
				}
			}
		}
	}
	for _, p := range ps {
		var want []uint32
		switch p.Suffix {
		case wname:
			want = qweight
		case zname:
			want = qzeros
		default:
			continue
		}
		got := make([]uint32, len(p.Data)/4)
		for i := range got {
			got[i] = binary.LittleEndian.Uint32(p.Data[4*i:])
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s differs from the reference pack loop", p.Suffix)
		}
	}
}

// TestRTNRoundTrip quantizes with each format's scheme from NewConfig and
// checks that the written layer dequantizes bit for bit to what RTN
// decided.
func TestRTNRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	const out, in = 32, 128
	w := make([]float32, out*in)
	for i := range w {
		w[i] = float32(rng.NormFloat64()) * 0.02
		if i%in < 16 && i/in%4 == 0 {
			w[i] = max(w[i], -w[i]) // some all-positive groups
		}
	}
	for _, f := range []Format{GPTQ, AWQ, CompressedTensors} {
		for _, s := range []quant.Scheme{
			{Bits: 4, GroupSize: 16},
			{Bits: 4, GroupSize: 16, Symmetric: true},
			{Bits: 8, GroupSize: -1},
			{Bits: 4, GroupSize: 32, BF16Scales: true},
		} {
			c, err := NewConfig(f, s)
			if err != nil {
				continue // AWQ 8-bit, BF16 scales outside compressed-tensors
			}
			t.Run(fmt.Sprintf("%s %+v", f, c.Scheme), func(t *testing.T) {
				q, err := quant.RTN(w, out, in, c.Scheme, quant.RTNOptions{Clip: &quant.ClipSearch{}})
				if err != nil {
					t.Fatal(err)
				}
				ps, err := Pack(c, q)
				if err != nil {
					t.Fatal(err)
				}
				got, err := Unpack(c, PackedSource(ps), out, in)
				if err != nil {
					t.Fatal(err)
				}
				checkSameTensor(t, got, q)
			})
		}
	}
}
