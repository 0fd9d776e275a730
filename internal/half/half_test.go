package half

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

func TestF16ToF32AllValues(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		got := F16ToF32(h)
		want := f16Reference(h)
		if math.IsNaN(want) {
			if !math.IsNaN(float64(got)) {
				t.Fatalf("F16ToF32(%#04x) = %v, want NaN", h, got)
			}
			continue
		}
		if float64(got) != want || math.Signbit(float64(got)) != math.Signbit(want) {
			t.Fatalf("F16ToF32(%#04x) = %v, want %v", h, got, want)
		}
	}
}

// f16Reference decodes an F16 bit pattern from its definition.
func f16Reference(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(frac, -24)
	case 0x1f:
		if frac == 0 {
			return math.Inf(int(sign))
		}
		return math.NaN()
	}
	return sign * math.Ldexp(1+frac/1024, exp-15)
}

func TestRoundTripAllValues(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		if got := F32ToF16(F16ToF32(h)); got != h {
			t.Errorf("F16 %#04x: round trip gives %#04x", h, got)
		}
		if got := F32ToBF16(BF16ToF32(h)); got != h {
			t.Errorf("BF16 %#04x: round trip gives %#04x", h, got)
		}
	}
}

func TestF32ToF16(t *testing.T) {
	tests := []struct {
		name string
		in   float32
		want uint16
	}{
		{"zero", 0, 0x0000},
		{"negative zero", float32(math.Copysign(0, -1)), 0x8000},
		{"one", 1, 0x3c00},
		{"minus two", -2, 0xc000},
		{"0.1", 0.1, 0x2e66},
		{"largest finite", 65504, 0x7bff},
		{"just below overflow tie", 65519.996, 0x7bff},
		{"overflow tie goes to Inf", 65520, 0x7c00},
		{"overflow", 1e10, 0x7c00},
		{"negative overflow", -1e10, 0xfc00},
		{"largest float32", math.MaxFloat32, 0x7c00},
		{"Inf", float32(math.Inf(1)), 0x7c00},
		{"-Inf", float32(math.Inf(-1)), 0xfc00},
		{"tie rounds down to even", 1 + 0x1p-11, 0x3c00},
		{"tie rounds up to even", 1 + 3*0x1p-11, 0x3c02},
		{"above tie rounds up", 1 + 0x1p-11 + 0x1p-23, 0x3c01},
		{"below tie rounds down", 1 + 0x1p-11 - 0x1p-23, 0x3c00},
		{"carry into exponent", 2 - 0x1p-12, 0x4000},
		{"smallest normal", 0x1p-14, 0x0400},
		{"tie below smallest normal", 0x1p-14 - 0x1p-25, 0x0400},
		{"largest subnormal", 1023 * 0x1p-24, 0x03ff},
		{"smallest subnormal", 0x1p-24, 0x0001},
		{"negative smallest subnormal", -0x1p-24, 0x8001},
		{"half smallest subnormal ties to zero", 0x1p-25, 0x0000},
		{"above half smallest subnormal", 0x1p-25 + 0x1p-40, 0x0001},
		{"subnormal tie rounds up to even", 3 * 0x1p-25, 0x0002},
		{"subnormal tie rounds down to even", 5 * 0x1p-25, 0x0002},
		{"underflow", 0x1p-26, 0x0000},
		{"negative underflow", -0x1p-30, 0x8000},
		{"float32 subnormal", math.SmallestNonzeroFloat32, 0x0000},
		{"quiet NaN", math.Float32frombits(0x7fc00000), 0x7e00},
		{"negative NaN", math.Float32frombits(0xffc00000), 0xfe00},
		{"NaN payload only in low bits", math.Float32frombits(0x7f800001), 0x7e00},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := F32ToF16(tt.in); got != tt.want {
				t.Errorf("F32ToF16(%g) = %#04x, want %#04x", tt.in, got, tt.want)
			}
		})
	}
}

func TestF32ToBF16(t *testing.T) {
	tests := []struct {
		name string
		in   uint32 // float32 bits
		want uint16
	}{
		{"zero", 0x00000000, 0x0000},
		{"negative zero", 0x80000000, 0x8000},
		{"one", 0x3f800000, 0x3f80},
		{"pi rounds down", 0x40490fdb, 0x4049},
		{"tie rounds down to even", 0x3f808000, 0x3f80},
		{"tie rounds up to even", 0x3f818000, 0x3f82},
		{"above tie rounds up", 0x3f808001, 0x3f81},
		{"below tie rounds down", 0x3f807fff, 0x3f80},
		{"carry into exponent", 0x3fffffff, 0x4000},
		{"largest float32 overflows", 0x7f7fffff, 0x7f80},
		{"largest BF16 stays", 0x7f7f0000, 0x7f7f},
		{"overflow tie goes to Inf", 0x7f7f8000, 0x7f80},
		{"negative overflow", 0xff7fffff, 0xff80},
		{"Inf", 0x7f800000, 0x7f80},
		{"-Inf", 0xff800000, 0xff80},
		{"subnormal tie to zero", 0x00008000, 0x0000},
		{"subnormal tie up to even", 0x00018000, 0x0002},
		{"subnormal rounds up to smallest normal", 0x007fffff, 0x0080},
		{"smallest float32 subnormal", 0x00000001, 0x0000},
		{"quiet NaN", 0x7fc00000, 0x7fc0},
		{"negative NaN", 0xffc00000, 0xffc0},
		{"NaN that would round to Inf", 0x7f80ffff, 0x7fc0},
		{"NaN payload only in low bits", 0x7f800001, 0x7fc0},
		{"NaN payload kept", 0x7fa10000, 0x7fa1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := F32ToBF16(math.Float32frombits(tt.in)); got != tt.want {
				t.Errorf("F32ToBF16(%#08x) = %#04x, want %#04x", tt.in, got, tt.want)
			}
		})
	}
}

// TestF32ToF16Nearest checks random float32 values against a search over
// every finite F16 value: the result must be the nearest, ties to even.
func TestF32ToF16Nearest(t *testing.T) {
	var finite []float64 // positive finite F16 values, ascending with bits
	for h := range 0x7c00 {
		finite = append(finite, f16Reference(uint16(h)))
	}
	nearest := func(f float32) uint16 {
		v := math.Abs(float64(f))
		var h uint16
		switch {
		case v >= 65520: // the midpoint between 65504 and 2¹⁶
			h = 0x7c00
		default:
			i := sort.SearchFloat64s(finite, v) // finite[i-1] < v <= finite[i]
			h = uint16(i)
			if i > 0 {
				lo, hi := v-finite[i-1], finite[i]-v
				if lo < hi || lo == hi && (i-1)%2 == 0 {
					h = uint16(i - 1)
				}
			}
		}
		if math.Signbit(float64(f)) {
			h |= 0x8000
		}
		return h
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1 << 18 {
		bits := rng.Uint32()
		if bits&0x7f800000 == 0x7f800000 {
			continue // Inf and NaN have their own cases
		}
		// Most random bit patterns are far out of F16 range; fold half of
		// them into it.
		if bits&1 == 0 {
			bits = bits&0x807fffff | (uint32(rng.IntN(40))+127-30)<<23
		}
		f := math.Float32frombits(bits)
		if got, want := F32ToF16(f), nearest(f); got != want {
			t.Fatalf("F32ToF16(%g [%#08x]) = %#04x, want %#04x", f, bits, got, want)
		}
	}
}
