package convert

import (
	"math"
	"strings"
	"testing"
)

// TestCheckFinite checks that the first non-finite weight is the one
// reported, wherever the rows are split over the cores.
func TestCheckFinite(t *testing.T) {
	const rows, cols = 40, 4096 // several chunks of the parallel loop
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	tests := []struct {
		name string
		bad  map[int]float32 // index: value
		want string          // the error's end; "" for none
	}{
		{"all finite", nil, ""},
		{"one NaN", map[int]float32{5*cols + 7: nan}, "row 5, column 7 is NaN"},
		{"the first of several", map[int]float32{39*cols + 1: inf, 17*cols + 3: -inf, 30 * cols: nan}, "row 17, column 3 is -Inf"},
		{"in the last row", map[int]float32{rows*cols - 1: inf}, "row 39, column 4095 is +Inf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := make([]float32, rows*cols)
			for i, v := range tt.bad {
				w[i] = v
			}
			err := checkFinite(w, cols)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("error %v for finite weights", err)
			case tt.want != "" && (err == nil || !strings.HasSuffix(err.Error(), tt.want)):
				t.Errorf("error %v, want one ending %q", err, tt.want)
			}
		})
	}
}
