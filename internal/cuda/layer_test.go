package cuda

import "testing"

// TestOverlap: the check that keeps rms_norm's output off its inputs.
func TestOverlap(t *testing.T) {
	a := Buffer{ptr: 1000, bytes: 400}
	for _, c := range []struct {
		name  string
		b     Buffer
		bytes uintptr
		want  bool
	}{
		{"same", a, 400, true},
		{"inside", Buffer{ptr: 1200, bytes: 100}, 400, true},
		{"ends where a starts", Buffer{ptr: 600, bytes: 400}, 400, false},
		{"starts where a ends", Buffer{ptr: 1400, bytes: 400}, 400, false},
		{"one byte in", Buffer{ptr: 1399, bytes: 400}, 400, true},
		{"zero buffer", Buffer{}, 400, false},
	} {
		if got := overlap(a, c.b, c.bytes); got != c.want {
			t.Errorf("%s: overlap %v, want %v", c.name, got, c.want)
		}
		if got := overlap(c.b, a, c.bytes); got != c.want {
			t.Errorf("%s, swapped: overlap %v, want %v", c.name, got, c.want)
		}
	}
}
