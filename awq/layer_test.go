package awq

import (
	"slices"
	"strings"
	"testing"

	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/quant"
	"github.com/qtk-dev/qtk/runtime"
)

var scheme4g64 = quant.Scheme{Bits: 4, GroupSize: 64}

// dequantized returns w with every linear replaced by its dequantized
// tensor.
func dequantized(w runtime.LayerWeights, tensors map[model.Role]*quant.Tensor) runtime.LayerWeights {
	for r, t := range tensors {
		*fields[r](&w) = t.Dequantize()
	}
	return w
}

// rtnLayer returns w with every linear replaced by its min-max RTN
// fake-quantization.
func rtnLayer(t *testing.T, cfg *model.Config, w runtime.LayerWeights, s quant.Scheme) runtime.LayerWeights {
	t.Helper()
	tensors := make(map[model.Role]*quant.Tensor)
	for _, r := range linearRoles {
		out, in := shape(cfg, r)
		q, err := quant.RTN(tensor(&w, r), out, in, s, quant.RTNOptions{})
		if err != nil {
			t.Fatal(err)
		}
		tensors[r] = q
	}
	return dequantized(w, tensors)
}

// TestLayerBeatsRTN checks that the AWQ layer's output is closer to the
// float layer's than plain RTN's, and that its search never reports a
// loss above RTN's (ratio 0).
func TestLayerBeatsRTN(t *testing.T) {
	tests := []struct {
		name   string
		layer  int
		scheme quant.Scheme
		clip   bool
	}{
		{"asymmetric g64 with clip", 1, scheme4g64, true},
		{"asymmetric g64 without clip", 1, scheme4g64, false},
		{"symmetric g128 with clip", 2, quant.Scheme{Bits: 4, GroupSize: 128, Symmetric: true}, true},
		{"asymmetric per row with clip", 0, quant.Scheme{Bits: 4, GroupSize: -1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := loadLayer(t, tt.layer, 4, 128, false)
			want := tl.outputs(t, tl.w)
			rtn := mse(tl.outputs(t, rtnLayer(t, tl.cfg, tl.w, tt.scheme)), want)

			w := tl.w
			res, err := Layer(tl.cfg, &w, tl.acts, Options{Scheme: tt.scheme, Clip: tt.clip, Log: t.Logf})
			if err != nil {
				t.Fatal(err)
			}
			awq := mse(tl.outputs(t, dequantized(w, res.Tensors)), want)
			t.Logf("layer output MSE: RTN %.4g, AWQ %.4g", rtn, awq)
			if !(awq < rtn) {
				t.Errorf("AWQ's layer output MSE %.4g is not below RTN's %.4g", awq, rtn)
			}
			if got, want := len(res.Clips), map[bool]int{true: 5, false: 0}[tt.clip]; got != want {
				t.Errorf("%d clip reports, want %d", got, want)
			}
			for _, c := range res.Clips {
				if c.ErrAfter > c.ErrBefore {
					t.Errorf("clip %s: error rose from %.4g to %.4g", c.Linear, c.ErrBefore, c.ErrAfter)
				}
			}
		})
	}
}

// TestChosenRatioIsArgmin checks each group's report: the ratio kept is
// the first least loss of the grid, and its scales are normalized.
func TestChosenRatioIsArgmin(t *testing.T) {
	tl := loadLayer(t, 1, 4, 128, true)
	w := tl.w
	res, err := Layer(tl.cfg, &w, tl.acts, Options{Scheme: scheme4g64, Grid: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Scales) != 4 {
		t.Fatalf("%d scale groups, want 4 (v→o included)", len(res.Scales))
	}
	for _, rep := range res.Scales {
		if len(rep.Losses) != 10 {
			t.Fatalf("%v: %d losses, want 10", rep.Linears, len(rep.Losses))
		}
		best := slices.Index(rep.Losses, slices.Min(rep.Losses))
		if rep.Best != best || rep.Ratio != float64(best)/10 {
			t.Errorf("%v: best %d (ratio %v), want %d; losses %v", rep.Linears, rep.Best, rep.Ratio, best, rep.Losses)
		}
		lo, hi := slices.Min(rep.Scales), slices.Max(rep.Scales)
		if p := float64(lo) * float64(hi); p < 1-1e-5 || p > 1+1e-5 {
			t.Errorf("%v: min·max of the scales is %v, want 1", rep.Linears, p)
		}
		t.Logf("%s → %v: ratio %.1f, losses %.3g", rep.Prev, rep.Linears, rep.Ratio, rep.Losses)
	}
}

// TestTensorsMatchFakeQuant checks what the caller writes: the layer
// built from Layer's norms and dequantized tensors computes what the
// original layer computes with every linear fake-quantized in the
// original channel basis (Q(W·s)/s, rows of v and up scaled back).
func TestTensorsMatchFakeQuant(t *testing.T) {
	for _, expandKV := range []bool{false, true} {
		tl := loadLayer(t, 1, 2, 64, expandKV)
		w := tl.w
		res, err := Layer(tl.cfg, &w, tl.acts, Options{Scheme: scheme4g64, Clip: true, Grid: 5})
		if err != nil {
			t.Fatal(err)
		}
		written := dequantized(w, res.Tensors)

		fake := cloneWeights(dequantized(tl.w, res.Tensors))
		for _, rep := range res.Scales {
			inv := make([]float32, len(rep.Scales))
			for c, s := range rep.Scales {
				inv[c] = 1 / s
			}
			// Undo the fold on the fake-quantized weights only: the
			// norms stay the originals.
			for _, r := range rep.Linears {
				divideColumns(tensor(&fake, r), rep.Scales)
			}
			if _, linear := inputOf[rep.Prev]; linear {
				fold(tl.cfg, &fake, rep.Prev, nil, inv)
			}
		}
		got, want := tl.outputs(t, written), tl.outputs(t, fake)
		if e := relErr(got, want); e > 1e-4 {
			t.Errorf("expandKV %v: written layer differs from the fake-quantized original by %.3g relative", expandKV, e)
		}
	}
}

// TestLayerKeepsCallerSlices checks that Layer replaces the slices of w
// rather than writing to them.
func TestLayerKeepsCallerSlices(t *testing.T) {
	tl := loadLayer(t, 0, 2, 64, false)
	orig := cloneWeights(tl.w)
	w := tl.w
	if _, err := Layer(tl.cfg, &w, tl.acts, Options{Scheme: scheme4g64, Clip: true, Grid: 4}); err != nil {
		t.Fatal(err)
	}
	for r := range fields {
		if !slices.Equal(tensor(&tl.w, r), tensor(&orig, r)) {
			t.Errorf("%s: the caller's slice was written", r)
		}
	}
	if &w.AttnNorm[0] == &tl.w.AttnNorm[0] {
		t.Error("w's input norm was not replaced")
	}
}

// TestClipTokens checks how many tokens the clip search samples.
func TestClipTokens(t *testing.T) {
	tl := loadLayer(t, 0, 4, 64, false) // 256 tokens
	tests := []struct{ clipTokens, want int }{
		{0, 256},    // fewer tokens than the default 512: all
		{128, 128},  // stride 2
		{100, 128},  // stride 2: between 100 and 199
		{1000, 256}, // all
		{1, 1},      // stride 256: the first token only
	}
	for _, tt := range tests {
		w := tl.w
		res, err := Layer(tl.cfg, &w, tl.acts, Options{Scheme: scheme4g64, Clip: true, Grid: 1, ClipTokens: tt.clipTokens})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range res.Clips {
			if c.Tokens != tt.want {
				t.Errorf("ClipTokens %d: %s sampled %d tokens, want %d", tt.clipTokens, c.Linear, c.Tokens, tt.want)
			}
		}
	}
}

// TestLayerErrors checks that bad arguments are errors, not panics.
func TestLayerErrors(t *testing.T) {
	tl := loadLayer(t, 0, 1, 16, false)
	short := cloneWeights(tl.w)
	short.Down = short.Down[1:]
	tests := []struct {
		name string
		w    runtime.LayerWeights
		opts Options
		want string
	}{
		{"negative grid", tl.w, Options{Scheme: scheme4g64, Grid: -1}, "grid"},
		{"negative clip tokens", tl.w, Options{Scheme: scheme4g64, ClipTokens: -1}, "clip tokens"},
		{"group size not dividing", tl.w, Options{Scheme: quant.Scheme{Bits: 4, GroupSize: 96}}, "group size"},
		{"three bits", tl.w, Options{Scheme: quant.Scheme{Bits: 3, GroupSize: 64}}, "bits"},
		{"short weight", short, Options{Scheme: scheme4g64}, "ffn_down has"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := tt.w
			_, err := Layer(tl.cfg, &w, tl.acts, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
	w := tl.w
	if _, err := Layer(tl.cfg, &w, nil, Options{Scheme: scheme4g64}); err == nil {
		t.Error("no error without activations")
	}
}
