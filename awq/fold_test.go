package awq

import (
	"math"
	"testing"

	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/runtime"
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

// TestFoldScalesEveryRow checks fold value by value on up → down, whose
// producer's rows and linear's columns span several chunks of the
// parallel loops: down's columns multiplied by s, up's rows divided.
func TestFoldScalesEveryRow(t *testing.T) {
	cfg := &model.Config{HiddenSize: 256, IntermediateSize: 768, NumHeads: 2, NumKVHeads: 2, HeadDim: 128}
	rng := newRand(5)
	random := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		return x
	}
	w := runtime.LayerWeights{Up: random(768 * 256), Down: random(256 * 768)}
	s := random(768)
	for c := range s {
		s[c] = float32(math.Exp(float64(s[c])))
	}
	scaled := cloneWeights(w)
	fold(cfg, &scaled, model.FFNUp, []model.Role{model.FFNDown}, s)
	for o := range 256 {
		for c := range 768 {
			if got, want := scaled.Down[o*768+c], w.Down[o*768+c]*s[c]; got != want {
				t.Fatalf("down[%d, %d] = %v, want %v", o, c, got, want)
			}
		}
	}
	for c := range 768 {
		for j := range 256 {
			if got, want := scaled.Up[c*256+j], w.Up[c*256+j]/s[c]; got != want {
				t.Fatalf("up[%d, %d] = %v, want %v", c, j, got, want)
			}
		}
	}
}
