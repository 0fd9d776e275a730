package cuda

import (
	"slices"
	"testing"
)

// TestInt4GEMVVariantsKnown: every listed variant has a launch and an entry
// point in the kernels, and the layout decoding picks is one of them.
func TestInt4GEMVVariantsKnown(t *testing.T) {
	if len(Int4GEMVVariants) != len(int4Variants) {
		t.Errorf("%d variants listed, %d known", len(Int4GEMVVariants), len(int4Variants))
	}
	for _, name := range Int4GEMVVariants {
		v, ok := int4Variants[name]
		if !ok {
			t.Errorf("variant %s has no launch", name)
		}
		if !slices.Contains(kernelNames, "int4_gemv_v_"+v.kernel) {
			t.Errorf("variant %s has no kernel int4_gemv_v_%s", name, v.kernel)
		}
	}
	for _, in := range []int{4096, 11008} {
		if name := int4DecodeVariant(Int4{Out: 4096, In: in}); !slices.Contains(Int4GEMVVariants, name) {
			t.Errorf("decoding [4096×%d] runs %q, not a listed variant", in, name)
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
		{"h8r", w(4096, 128), true},
		{"h16r", w(11008, 128), true},
		{"h16r", w(14336, 128), true},
		{"h8r", w(160, 160), true},    // one group
		{"h8r", w(24576, 128), false}, // 48 KB of float16 x
		{"h8r", w(96, 16), false},     // groups shorter than a chunk
		{"h16r", w(96, 32), true},
		{"nonesuch", w(4096, 128), false},
	} {
		if got := Int4VariantFits(c.name, c.w); got != c.fits {
			t.Errorf("%s of [%d×%d] in groups of %d: fits %v, want %v", c.name, c.w.Out, c.w.In, c.w.GroupLen, got, c.fits)
		}
	}
}

// TestSetInt4Decode: a listed layout or "" is taken and the one before
// returned; an unknown one refused, the setting kept.
func TestSetInt4Decode(t *testing.T) {
	c := &Ctx{}
	if was, err := c.SetInt4Decode("h16r"); err != nil || was != "" {
		t.Fatalf("set h16r: was %q, %v", was, err)
	}
	if _, err := c.SetInt4Decode("nonesuch"); err == nil || c.decode != "h16r" {
		t.Errorf("unknown layout: %v, setting %q", err, c.decode)
	}
	if was, err := c.SetInt4Decode(""); err != nil || was != "h16r" || c.decode != "" {
		t.Errorf("reset: was %q, %v, setting %q", was, err, c.decode)
	}
}
