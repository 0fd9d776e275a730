package compute

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestToHalf(t *testing.T) {
	for _, c := range []struct {
		f    float32
		want uint16
	}{
		{0, 0},
		{float32(math.Copysign(0, -1)), 0x8000},
		{1, 0x3c00},
		{-2, 0xc000},
		{0.5, 0x3800},
		{65504, 0x7bff},           // the largest float16
		{65520, 0x7c00},           // rounds up to infinity
		{1.0 / (1 << 24), 0x0001}, // the smallest subnormal
		{1.0 / (1 << 25), 0x0000}, // half of it: a tie, to even
		{1.5 / (1 << 24), 0x0002}, // a tie, to even
		{1.0 / (1 << 14), 0x0400}, // the smallest normal
		{1 + 1.0/(1<<11), 0x3c00}, // a tie, to even
		{1 + 3.0/(1<<11), 0x3c02}, // a tie, to even (up)
		{1 + 1.0/(1<<10), 0x3c01}, // exact
		{2047.0 / 1024 * 0.999999, 0x3fff},
		{float32(math.Inf(1)), 0x7c00},
	} {
		if got := toHalf(c.f); got != c.want {
			t.Errorf("toHalf(%g) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
	if h := toHalf(float32(math.NaN())); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("toHalf(NaN) = %#04x, not a NaN", h)
	}
}

// TestHalfRoundTrip: every float16 survives a round trip, and random
// floats in range come back within half a unit of the last place.
func TestHalfRoundTrip(t *testing.T) {
	for h := range 1 << 16 {
		if h&0x7c00 == 0x7c00 && h&0x3ff != 0 {
			continue // NaNs
		}
		if got := toHalf(fromHalf(uint16(h))); got != uint16(h) {
			t.Fatalf("%#04x came back as %#04x", h, got)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		f := float32(rng.NormFloat64() * math.Exp2(float64(rng.IntN(30)-20)))
		got := fromHalf(toHalf(f))
		ulp := math.Max(math.Exp2(math.Floor(math.Log2(math.Abs(float64(f))))-10), math.Exp2(-24))
		if d := math.Abs(float64(got - f)); d > ulp/2 {
			t.Fatalf("%g came back as %g, %g off, half an ulp is %g", f, got, d, ulp/2)
		}
	}
}
