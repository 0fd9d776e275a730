package cuda

import (
	"slices"
	"testing"
)

// TestInt4GEMVVariantsKnown: every listed variant has a launch and an entry
// point in the kernels.
func TestInt4GEMVVariantsKnown(t *testing.T) {
	if len(Int4GEMVVariants) != len(int4Variants) {
		t.Errorf("%d variants listed, %d known", len(Int4GEMVVariants), len(int4Variants))
	}
	for _, name := range Int4GEMVVariants {
		if _, ok := int4Variants[name]; !ok {
			t.Errorf("variant %s has no launch", name)
		}
		if !slices.Contains(kernelNames, "int4_gemv_v_"+name) {
			t.Errorf("variant %s has no kernel", name)
		}
	}
}

func TestInt4VariantFits(t *testing.T) {
	w := func(in, groupLen int) Int4 {
		return Int4{Out: 16, In: in, Groups: (in + groupLen - 1) / groupLen, GroupLen: groupLen}
	}
	for _, c := range []struct {
		name string
		w    Int4
		fits bool
	}{
		{"h8", w(4096, 128), true},
		{"h8w8", w(11008, 128), true},
		{"h16", w(14336, 128), true},
		{"h8", w(24576, 128), false}, // 48 KB of float16 x
		{"h8", w(96, 16), false},
		{"float8", w(4096, 128), true},
		{"float8", w(11008, 128), true},
		{"float8", w(14336, 128), false}, // 56 KB of float32 x
		{"half8", w(14336, 128), true},
		{"half8", w(96, 32), true},
		{"half8", w(96, 16), false}, // groups shorter than a chunk
		{"mma1x4", w(4096, 128), true},
		{"mma2x2", w(11008, 128), true},
		{"mma1x4", w(4096, 64), false}, // a tile's 128 columns span two groups
		{"mma1x4", w(4096, 256), true},
		{"mma2x2", w(160, 160), true}, // one group
		{"mma2x2", w(24576, 128), false},
		{"nonesuch", w(4096, 128), false},
	} {
		if got := Int4VariantFits(c.name, c.w); got != c.fits {
			t.Errorf("%s of [%d×%d] in groups of %d: fits %v, want %v", c.name, c.w.Out, c.w.In, c.w.GroupLen, got, c.fits)
		}
	}
}
