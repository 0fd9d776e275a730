package convert

import (
	"context"
	"fmt"
	"github.com/qtk-dev/qtk/compute"
	"math"
	"time"

	"github.com/qtk-dev/qtk/awq"
	"github.com/qtk-dev/qtk/calibrate"
	"github.com/qtk-dev/qtk/formats/hf"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/runtime"
)

// Report summarizes a quantization run.
type Report struct {
	Method  Method    `json:"method"`
	Format  hf.Format `json:"format"`
	Layers  int       `json:"layers"`
	Seconds float64   `json:"seconds"`
	// CalibrationTokens is 0 for RTN.
	CalibrationTokens int `json:"calibration_tokens"`
}

// Quantize quantizes the decoder layers of ck and writes the checkpoint to
// dest (replacing an existing directory only with force). Layers are read,
// quantized and written one at a time; with calibration, only the current
// layer is held in float32 beside the calibration activations. A cancelled
// ctx stops between layers, and nothing is left at dest on any error.
func Quantize(ctx context.Context, ck *model.Checkpoint, dest string, force bool, opts Options) (Report, error) {
	start := time.Now()
	cfg := ck.Config
	if err := opts.validate(); err != nil {
		return Report{}, err
	}
	if opts.Backend == nil {
		opts.Backend = compute.CPU
	}
	qc, err := hf.NewConfig(opts.Format, opts.Scheme)
	if err != nil {
		return Report{}, err
	}
	qc.ActOrder = opts.storesGIdx()
	opts.Scheme = qc.Scheme // the scheme adjusted to what the format stores
	for _, role := range linearRoles {
		if _, in := shapeOf(cfg, role); opts.Scheme.Validate(in) != nil {
			return Report{}, fmt.Errorf("%s (%d input channels): %w", role, in, opts.Scheme.Validate(in))
		}
	}

	var acts *calibrate.Activations
	if opts.Method != RTN {
		windows, err := calibrate.Windows(opts.Tokens, opts.Calib)
		if err != nil {
			return Report{}, err
		}
		if acts, err = calibrate.Embed(ck, windows); err != nil {
			return Report{}, err
		}
		opts.logf("calibration: %d windows of %d tokens", len(windows), len(windows[0]))
	}

	shard := opts.MaxShardBytes
	if shard <= 0 {
		shard = DefaultMaxShardBytes
	}
	out, err := createOutput(dest, force, shard)
	if err != nil {
		return Report{}, err
	}
	committed := false
	defer func() {
		if !committed {
			out.abort()
		}
	}()
	if err := out.declare(ck, qc); err != nil {
		return Report{}, err
	}
	for l := 0; l < cfg.NumLayers; l++ {
		if err := ctx.Err(); err != nil {
			return Report{}, err
		}
		layerStart := time.Now()
		if err := quantizeLayer(ck, l, acts, out, qc, &opts); err != nil {
			return Report{}, err
		}
		opts.logf("layer %d/%d quantized in %.1fs", l+1, cfg.NumLayers, time.Since(layerStart).Seconds())
	}
	for _, spec := range globalSpecs(cfg.Tensors()) {
		if err := out.writeCopy(ck, spec); err != nil {
			return Report{}, err
		}
	}
	if err := out.finish(ck, qc); err != nil {
		return Report{}, err
	}
	if err := ctx.Err(); err != nil {
		return Report{}, err
	}
	if err := out.commit(); err != nil {
		return Report{}, err
	}
	committed = true
	rep := Report{Method: opts.Method, Format: qc.Format, Layers: cfg.NumLayers, Seconds: time.Since(start).Seconds()}
	if acts != nil {
		rep.CalibrationTokens = acts.Tokens()
	}
	return rep, nil
}

// quantizeLayer quantizes layer l, writes its tensors and, with
// calibration, advances the activations to the next layer's inputs.
func quantizeLayer(ck *model.Checkpoint, l int, acts *calibrate.Activations, out *output, qc hf.Config, opts *Options) error {
	cfg := ck.Config
	w, err := runtime.ReadLayer(ck, l)
	if err != nil {
		return err
	}
	for _, role := range linearRoles {
		rows, cols := shapeOf(cfg, role)
		if err := checkFinite(*weightOf(&w, role), cols); err != nil {
			return fmt.Errorf("%s [%d×%d]: %w", model.HFName(role, l), rows, cols, err)
		}
	}
	var decided decisions
	// next is the layer the calibration activations advance through: the
	// quantized one for GPTQ (later layers calibrate on quantized
	// outputs), the float one for AWQ (as the reference does).
	var next *runtime.Layer
	switch opts.Method {
	case RTN:
		decided, err = quantizeRTN(cfg, &w, opts)
	case GPTQ:
		decided, err = quantizeGPTQ(cfg, &w, acts, opts)
	case AWQ:
		// The float layer, for Advance (see awq.Layer).
		var fp *runtime.Layer
		if fp, err = runtime.NewLayerOn(opts.Backend, cfg, w); err != nil {
			return fmt.Errorf("layer %d: %w", l, err)
		}
		defer fp.Release()
		var res *awq.Result
		res, err = awq.Layer(cfg, &w, acts, awq.Options{Scheme: opts.Scheme, Clip: opts.Clip, Backend: opts.Backend, Log: opts.Log})
		switch {
		case err != nil:
		case opts.AWQThenGPTQ:
			// GPTQ rounds the scaled (and clipped) weights, calibrated on
			// the scaled layer; later layers see its quantized outputs.
			decided, err = quantizeGPTQ(cfg, &w, acts, opts)
		default:
			decided, next = res.Tensors, fp
		}
	}
	if err != nil {
		return fmt.Errorf("layer %d: %w", l, err)
	}
	for _, spec := range cfg.Tensors() {
		if spec.Layer != l {
			continue
		}
		if isQuantized(spec) {
			t := decided[spec.Role]
			if opts.Decided != nil {
				opts.Decided(spec.Role, l, t)
			}
			packed, err := hf.Pack(qc, t)
			if err != nil {
				return fmt.Errorf("%s: %w", spec.Name, err)
			}
			if err := out.writePacked(spec, packed); err != nil {
				return err
			}
			continue
		}
		if opts.Method == AWQ {
			// AWQ folded its scales into the norms (and biases).
			if err := out.writeFloat(ck, spec, vectorOf(&w, spec.Role)); err != nil {
				return err
			}
			continue
		}
		if err := out.writeCopy(ck, spec); err != nil {
			return err
		}
	}
	if acts == nil {
		return nil
	}
	if next == nil {
		for role, t := range decided {
			*weightOf(&w, role) = t.Dequantize()
		}
		if next, err = runtime.NewLayerOn(opts.Backend, cfg, w); err != nil {
			return fmt.Errorf("layer %d: %w", l, err)
		}
		defer next.Release()
	}
	return acts.Advance(next)
}

// checkFinite reports the first NaN or infinite weight of a [rows × cols]
// matrix.
func checkFinite(w []float32, cols int) error {
	for i, v := range w {
		if v != v || math.IsInf(float64(v), 0) {
			return fmt.Errorf("weight at row %d, column %d is %v", i/cols, i%cols, v)
		}
	}
	return nil
}
