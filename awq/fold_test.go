package awq

import (
	"math"
	"testing"
)

// TestFoldKeepsFunction checks that folding scales into a layer, without
// quantizing, leaves its output unchanged: the norms (or the producing
// linear's rows) absorb exactly what the linears' columns gain.
func TestFoldKeepsFunction(t *testing.T) {
	tests := []struct {
		name     string
		expandKV bool
		groups   int
	}{
		{"grouped-query attention", false, 3},
		{"one kv head per query head", true, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := loadLayer(t, 1, 2, 64, tt.expandKV)
			want := tl.outputs(t, tl.w)
			groups := scaleGroups(tl.cfg)
			if len(groups) != tt.groups {
				t.Fatalf("%d scale groups, want %d", len(groups), tt.groups)
			}
			rng := newRand(1)
			scaled := cloneWeights(tl.w)
			for _, g := range groups {
				s := make([]float32, g.input().width(tl.cfg))
				for c := range s {
					s[c] = float32(math.Exp(rng.NormFloat64())) // spread over ~e^±3
				}
				fold(tl.cfg, &scaled, g.prev, g.linears, s)
			}
			got := tl.outputs(t, scaled)
			if e := relErr(got, want); e > 1e-4 {
				t.Errorf("folded layer differs from the original by %.3g relative, want ≤ 1e-4", e)
			} else {
				t.Logf("relative difference %.3g", e)
			}
			if relErr(scaled.AttnNorm, tl.w.AttnNorm) == 0 {
				t.Error("the input norm was not scaled")
			}
		})
	}
}
