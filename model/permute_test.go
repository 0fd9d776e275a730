package model

import (
	"slices"
	"testing"
)

func TestPermuteQK(t *testing.T) {
	w := []float32{0, 1, 2, 3, 4, 5, 6, 7}
	w2 := []float32{0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5}
	for _, tc := range []struct {
		name              string
		w                 []float32
		rows, cols, heads int
		want              []float32
	}{
		{"two heads, one column", w, 8, 1, 2, []float32{0, 2, 1, 3, 4, 6, 5, 7}},
		{"one head, one column", w, 8, 1, 1, []float32{0, 4, 1, 5, 2, 6, 3, 7}},
		{"one head, two columns", w2, 4, 2, 1, []float32{0, 0.5, 2, 2.5, 1, 1.5, 3, 3.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PermuteQK(tc.w, tc.rows, tc.cols, tc.heads)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("PermuteQK = %v, want %v", got, tc.want)
			}
			back, err := UnpermuteQK(got, tc.rows, tc.cols, tc.heads)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(back, tc.w) {
				t.Errorf("UnpermuteQK(PermuteQK(w)) = %v, want %v", back, tc.w)
			}
		})
	}
	for _, bad := range []struct{ rows, cols, heads int }{{8, 1, 3}, {8, 1, 0}, {8, 2, 2}} {
		if _, err := UnpermuteQK(w, bad.rows, bad.cols, bad.heads); err == nil {
			t.Errorf("permuted %d×%d over %d heads", bad.rows, bad.cols, bad.heads)
		}
	}
}
