package gptq

import (
	"testing"

	"github.com/qtk-dev/qtk/formats/gguf"
)

// GPTQ on a GGUF block grid must beat rounding each block to nearest on the
// same grid, with and without importance-weighted fits, and the grid's
// encoding must decode to the weights the sweep chose.
func TestBlockGridBeatsRounding(t *testing.T) {
	const out, in, rows = 64, 512, 2048
	w, x, h := calibrated(5, out, in, rows)
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ5_0, gguf.TypeQ4_K, gguf.TypeQ6_K} {
		t.Run(typ.String(), func(t *testing.T) {
			decoded := func(r *gguf.Rounder) []float32 {
				wq := make([]float32, out*in)
				if err := gguf.Decode(typ, wq, r.Bytes()); err != nil {
					t.Fatal(err)
				}
				return wq
			}
			nearest, _ := gguf.NewRounder(typ, out, in)
			nearest.RoundAll(w, nil)
			grid, _ := gguf.NewRounder(typ, out, in)
			res, err := Quantize(w, out, in, h, Options{Grid: grid})
			if err != nil {
				t.Fatal(err)
			}
			if res.Tensor != nil {
				t.Error("a block grid run returned a quant.Tensor")
			}
			gptqErr := outputError(w, decoded(grid), out, in, x, rows)
			rtnErr := outputError(w, decoded(nearest), out, in, x, rows)
			t.Logf("output error: GPTQ %.4g, nearest %.4g (ratio %.3f)", gptqErr, rtnErr, gptqErr/rtnErr)
			if gptqErr > 0.8*rtnErr {
				t.Errorf("GPTQ output error %.4g is not 20%% below rounding's %.4g", gptqErr, rtnErr)
			}
		})
	}
}

func TestBlockGridOptionErrors(t *testing.T) {
	const out, in = 8, 64
	w, _, h := calibrated(6, out, in, 256)
	grid, _ := gguf.NewRounder(gguf.TypeQ4_0, out, in)
	for name, o := range map[string]Options{
		"act-order without static groups": {Grid: grid, ActOrder: true},
		"refit":                           {Grid: grid, RefitScales: true},
	} {
		if _, err := Quantize(w, out, in, h, o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	wide, _ := gguf.NewRounder(gguf.TypeQ4_K, out, 256)
	if _, err := Quantize(w, out, in, h, Options{Grid: wide}); err == nil {
		t.Error("a grid of 256-channel groups on 64 channels: no error")
	}
	if _, err := Quantize(w, out, in, h, Options{Grid: grid, ActOrder: true, StaticGroups: true}); err != nil {
		t.Errorf("act-order with static groups: %v", err)
	}
}
