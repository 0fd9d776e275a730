// Package awq quantizes LLaMA-family decoder layers with AWQ
// (Lin et al., 2023, "AWQ: Activation-aware Weight Quantization for LLM
// Compression and Acceleration", arXiv 2306.00978), following the
// reference implementation llm-awq (run_awq: auto_scale, then auto_clip).
//
// Weights that meet large activations matter most. AWQ scales the input
// channels of every linear up by s = x_mean^ratio (x_mean the mean |x| of
// the channel over calibration tokens) before rounding, so that those
// channels lose less precision, and folds 1/s into the operation that
// produces the input (an RMSNorm weight, or the output rows of the
// previous linear), which leaves the float layer's function unchanged.
// The ratio is searched per group of linears sharing an input, on the
// output error of the module they belong to. A clip search then shrinks
// each group's quantization range where that lowers the output error.
// The integer grid and the group parameters are those of package quant.
package awq

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/qtk-dev/qtk/calibrate"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/quant"
	"github.com/qtk-dev/qtk/runtime"
)

// Layer quantizes one decoder layer with AWQ, given the calibration
// activations at its input.
//
// It captures the inputs of the layer's linears with one float pass,
// searches the scales of each group (input_layernorm → q, k, v;
// v → o where the model has as many kv heads as query heads;
// post_attention_layernorm → gate, up; up → down) on the float layer,
// folds all of them, runs the clip search if asked, and quantizes every
// linear with RTN (the scheme's min-max parameters of the scaled, clipped
// weights).
//
// On success w is replaced by the scaled layer: new slices for every
// tensor (the caller's slices, and any runtime.Layer built from them, are
// not written; with Options.RoundOnDevice and the searches on a device,
// nil for the linears), holding
//   - AttnNorm and FFNNorm divided by the scales of their groups;
//   - V's rows (and VBias) divided by the v→o scales, when searched;
//   - Up's rows (and UpBias) divided by the up→down scales;
//   - every linear multiplied per input channel by its group's scales,
//     then clamped by the clip search (v, o, gate, up, down).
//
// The checkpoint to write is w's norms and biases with Result.Tensors for
// the linears. Activations are not advanced: the reference feeds the next
// layer the float layer's output, so build a runtime.Layer from the
// original weights before calling Layer and pass it to acts.Advance after.
//
// Memory: besides the activations, Layer holds tokens × (3·hidden +
// intermediate) floats (plus tokens × qDim with v→o), for the captured
// inputs and the float targets of the searches. On a
// compute.AWQSearcher backend (a GPU) the passes over the tokens, the grid
// points and the clip candidates run on its device, which holds the
// activations (uploaded from acts unless Options.DeviceInputs holds them
// there), tokens × 4·hidden floats for the inputs and targets of the
// attention and MLP searches, and the Gram matrices of o_proj's and
// down_proj's inputs for theirs; the host makes the same choices from the
// losses.
func Layer(cfg *model.Config, w *runtime.LayerWeights, acts *calibrate.Activations, opts Options) (*Result, error) {
	o, err := opts.resolved()
	if err != nil {
		return nil, fmt.Errorf("awq: %w", err)
	}
	if err := checkInputs(cfg, w, acts, o.Scheme); err != nil {
		return nil, fmt.Errorf("awq: %w", err)
	}
	h := cfg.HiddenSize

	groups := scaleGroups(cfg)
	var copts captureOptions
	for _, g := range groups {
		if g.module == linearModule {
			copts.keep[g.input()] = true
		}
	}
	tokens, maxRows := 0, 0
	for _, x := range acts.X {
		tokens += len(x) / h
		maxRows = max(maxRows, len(x)/h)
	}
	if o.Clip {
		copts.step = max(1, tokens/o.ClipTokens)
	}
	deviceStart := time.Now()
	dev, err := newDeviceSearch(cfg, w, acts, o)
	if err != nil {
		return nil, fmt.Errorf("awq: the float layer on %s: %w", o.Backend.Name(), err)
	}
	if dev != nil {
		defer dev.release()
		o.Log("awq: the float layer held on %s in %.2fs", o.Backend.Name(), time.Since(deviceStart).Seconds())
	}
	captureStart := time.Now()
	f, err := captureOn(cfg, w, acts, dev, copts, o.Backend)
	if err != nil {
		return nil, fmt.Errorf("awq: capturing inputs: %w", err)
	}
	where := "on the host"
	if dev != nil {
		where = "on " + o.Backend.Name()
	}
	o.Log("awq: %d calibration tokens, %d MiB captured %s in %.2fs", f.tokens, f.bytes()>>20, where, time.Since(captureStart).Seconds())

	res := &Result{Tensors: make(map[model.Role]*quant.Tensor, len(linearRoles)), DeviceInputsAdvanced: dev != nil && dev.advance}
	s := &searcher{cfg: cfg, w: w, f: f, x: acts.X, runner: acts.Runner(), opts: o, dev: dev}
	if dev == nil {
		s.out, s.normed = make([]float32, maxRows*h), make([]float32, maxRows*h)
	}
	for _, g := range groups {
		searchStart := time.Now()
		rep, err := s.search(g)
		if err != nil {
			return nil, fmt.Errorf("awq: %w", err)
		}
		o.Log("awq: %s → %v: ratio %.2f, loss %.4g (plain RTN %.4g), searched in %.2fs", g.prev, g.linears, rep.Ratio, rep.Losses[rep.Best], rep.Losses[0], time.Since(searchStart).Seconds())
		res.Scales = append(res.Scales, rep)
	}

	var scaled runtime.LayerWeights
	var linears scaledLinears
	foldStart := time.Now()
	if dev != nil && o.RoundOnDevice {
		scaled = cloneVectors(*w)
		linears = deviceLinears{cfg: cfg, layer: dev.layer, scheme: o.Scheme}
	} else {
		scaled = cloneWeights(*w)
		linears = hostLinears{cfg: cfg, w: &scaled, scheme: o.Scheme, dev: dev}
	}
	for _, rep := range res.Scales {
		foldVectors(&scaled, rep.Prev, rep.Scales)
		if err := linears.fold(rep); err != nil {
			return nil, fmt.Errorf("awq: folding the scales of %v: %w", rep.Linears, err)
		}
		// The clip search sees the inputs of the scaled layer.
		divideColumns(f.sample[inputOf[rep.Linears[0]]], rep.Scales)
	}
	o.Log("awq: scales folded in %.2fs", time.Since(foldStart).Seconds())
	if o.Clip {
		for _, r := range linearRoles {
			if r == model.AttnQ || r == model.AttnK {
				// Skipped, as in the reference: their error reaches
				// the output through q·kᵀ, not linearly.
				continue
			}
			clipStart := time.Now()
			out, in := shape(cfg, r)
			x := f.sample[inputOf[r]]
			losses, err := linears.clipLosses(r, x)
			if err != nil {
				return nil, fmt.Errorf("awq: clip %s: %w", r, err)
			}
			scored := time.Since(clipStart)
			rep, chosen := chooseClip(losses, out, in, len(x)/in, o.Scheme)
			if err := linears.clamp(r, chosen); err != nil {
				return nil, fmt.Errorf("awq: clip %s: %w", r, err)
			}
			rep.Linear = r
			o.Log("awq: clip %s: %d of %d groups shrunk (mean %.3f), error %.4g → %.4g over %d tokens, in %.2fs (candidates scored in %.2fs)",
				r, rep.Clipped, rep.Groups, rep.MeanShrink, rep.ErrBefore, rep.ErrAfter, rep.Tokens,
				time.Since(clipStart).Seconds(), scored.Seconds())
			res.Clips = append(res.Clips, rep)
		}
	}

	for r, field := range fields {
		if _, linear := inputOf[r]; !linear {
			if err := checkFinite(*field(&scaled)); err != nil {
				return nil, fmt.Errorf("awq: scaled %s: %w", r, err)
			}
		}
	}
	roundStart := time.Now()
	for _, r := range linearRoles {
		t, err := linears.round(r)
		if err != nil {
			return nil, fmt.Errorf("awq: %s: %w", r, err)
		}
		res.Tensors[r] = t
	}
	o.Log("awq: the scaled linears rounded in %.2fs", time.Since(roundStart).Seconds())
	*w = scaled
	return res, nil
}

// checkInputs validates the shapes of the weights and activations and the
// scheme against every linear's row length.
func checkInputs(cfg *model.Config, w *runtime.LayerWeights, acts *calibrate.Activations, s quant.Scheme) error {
	switch {
	case cfg == nil:
		return errors.New("no model config")
	case w == nil:
		return errors.New("no layer weights")
	case acts == nil || len(acts.X) == 0:
		return errors.New("no calibration activations")
	}
	h := cfg.HiddenSize
	want := map[model.Role]int{model.AttnNorm: h, model.FFNNorm: h}
	for _, r := range linearRoles {
		out, in := shape(cfg, r)
		want[r] = out * in
		if len(tensor(w, r)) == out*in {
			if err := s.Validate(in); err != nil {
				return fmt.Errorf("%s: %w", r, err)
			}
		}
		if b := biasOf[r]; tensor(w, b) != nil {
			want[b] = out
		}
	}
	for _, set := range [][]model.Role{
		{model.AttnQBias, model.AttnKBias, model.AttnVBias},
		{model.FFNGateB, model.FFNUpB},
	} {
		for _, r := range set[1:] {
			if (tensor(w, r) == nil) != (tensor(w, set[0]) == nil) {
				return fmt.Errorf("%s and %s: the runtime needs both biases or neither", set[0], r)
			}
		}
	}
	for r, n := range want {
		if got := len(tensor(w, r)); got != n {
			return fmt.Errorf("%s has %d values, want %d", r, got, n)
		}
	}
	for i, x := range acts.X {
		if len(x) == 0 || len(x)%h != 0 {
			return fmt.Errorf("calibration window %d holds %d values, not rows of %d", i, len(x), h)
		}
	}
	return nil
}

// checkFinite reports the first NaN or infinite value of x.
func checkFinite(x []float32) error {
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("value %d is %v", i, v)
		}
	}
	return nil
}
