package convert

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/qtk-dev/qtk/awq"
	"github.com/qtk-dev/qtk/calibrate"
	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/formats/hf"
	"github.com/qtk-dev/qtk/internal/linalg"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/quant"
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

// Interrupted is the error of a run stopped by its context after some
// layers were finished: they are kept, and a run with Options.Resume
// continues after them.
type Interrupted struct {
	Dest        string
	Done, Total int    // layers finished, of all
	Dir         string // where the finished layers are kept
	Err         error  // the context's error
}

func (e *Interrupted) Error() string {
	return fmt.Sprintf("%s: interrupted after %d of %d layers; they are kept in %s, continue with --resume", e.Dest, e.Done, e.Total, e.Dir)
}

func (e *Interrupted) Unwrap() error { return e.Err }

// Quantize quantizes the decoder layers of ck and writes the checkpoint to
// dest (replacing an existing directory only with force). Layers are read,
// quantized and saved one at a time into a hidden directory beside dest;
// with calibration, only the current layer is held in float32 beside the
// calibration activations. A cancelled ctx stops between layers with an
// *Interrupted error, keeping the finished layers for a run with
// opts.Resume, which continues after them and writes the same bytes as an
// uninterrupted run. On any other error nothing is left behind.
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
	from, err := newMadeFrom(ck, &opts)
	if err != nil {
		return Report{}, err
	}
	part, err := openPartial(dest, force, opts.Resume, from, cfg.NumLayers, opts.logf)
	if err != nil {
		return Report{}, err
	}
	first := part.layersDone(cfg.NumLayers, acts != nil)
	if first > 0 {
		if acts != nil && first < cfg.NumLayers {
			if err := part.loadInputs(first, acts.X); err != nil {
				return Report{}, err // a damaged save: kept for inspection
			}
		}
		opts.logf("resuming after layer %d/%d", first, cfg.NumLayers)
	}
	keep := false // keep the finished layers on return
	defer func() {
		if !keep {
			part.remove()
		}
	}()
	var dev *deviceCalibration
	if first < cfg.NumLayers {
		if dev, err = newDeviceCalibration(cfg, acts, &opts); err != nil {
			return Report{}, err
		}
	}
	if dev != nil {
		defer dev.release()
	}
	step := "quantize layers"
	if acts != nil {
		step = "calibrate and quantize layers"
	}
	opts.Progress.Report(step, first, cfg.NumLayers)
	// A finished layer is packed and saved, with the next layer's inputs,
	// while the next layer is quantized: at most one layer's save is in
	// flight, and a layer counts as done (Interrupted.Done) once saved.
	saver := newSaver()
	defer saver.wait() // before the state folder may be removed
	saving := -1       // the layer whose save is in flight
	waitSave := func() error {
		start := time.Now()
		took, err := saver.wait()
		if saving >= 0 && err == nil {
			opts.logf("layer %d saved in %.2fs, of which %.2fs held up the run", saving, took.Seconds(), time.Since(start).Seconds())
		}
		saving = -1
		return err
	}
	layers := &layerPrefetch{ck: ck, logf: opts.logf}
	defer layers.wait() // before the checkpoint may be closed
	for l := first; l < cfg.NumLayers; l++ {
		if err := ctx.Err(); err != nil {
			if err := waitSave(); err != nil {
				return Report{}, err
			}
			keep = l > 0
			if !keep {
				return Report{}, err
			}
			return Report{}, &Interrupted{Dest: dest, Done: l, Total: cfg.NumLayers, Dir: part.dir, Err: err}
		}
		start := time.Now()
		w, err := layers.layer(l)
		if err != nil {
			return Report{}, err
		}
		read := time.Since(start)
		start = time.Now()
		finished, err := quantizeLayer(ck, l, w, acts, dev, qc, &opts)
		if err != nil {
			return Report{}, err
		}
		quantized := time.Since(start)
		if err := waitSave(); err != nil {
			return Report{}, err
		}
		note := fmt.Sprintf("layer %d: %.2fs waiting for its weights, %.2fs calibrated and quantized", l, read.Seconds(), quantized.Seconds())
		var inputs [][]float32 // the next layer's, kept for a resumed run
		if acts != nil && l+1 < cfg.NumLayers {
			// On the device the layers run on their own copy of the
			// activations, downloaded now that the previous save is over.
			if dev != nil {
				start = time.Now()
				if err := dev.download(acts.X); err != nil {
					return Report{}, err
				}
				note += fmt.Sprintf(", %.2fs activations to the host", time.Since(start).Seconds())
			}
			inputs = acts.X
		}
		saver.start(func() error {
			tensors, err := packLayer(qc, finished)
			if err != nil {
				return err
			}
			if err := part.saveLayer(l, tensors); err != nil {
				return err
			}
			if inputs != nil {
				return part.saveInputs(l+1, inputs)
			}
			return nil
		})
		saving = l
		opts.logf("%s", note)
		if dev == nil && inputs != nil {
			// The CPU passes advance the host activations in place.
			if err := waitSave(); err != nil {
				return Report{}, err
			}
		}
		opts.Progress.Report(step, l+1, cfg.NumLayers)
	}
	if err := waitSave(); err != nil {
		return Report{}, err
	}
	if err := part.clearOutputs(); err != nil {
		return Report{}, err
	}
	if err := writeWeights(ck, qc, part, opts.maxShardBytes()); err != nil {
		return Report{}, err
	}
	if err := writeSideFiles(ck, qc, part.dir); err != nil {
		return Report{}, err
	}
	if err := part.dropState(); err != nil {
		return Report{}, err
	}
	if err := part.commit(dest); err != nil {
		return Report{}, err
	}
	keep = true
	rep := Report{Method: opts.Method, Format: qc.Format, Layers: cfg.NumLayers, Seconds: time.Since(start).Seconds()}
	if acts != nil {
		rep.CalibrationTokens = acts.Tokens()
	}
	return rep, nil
}

// quantizeLayer quantizes layer l and returns its tensors, in the order
// of the model's tensor list, for packLayer; with calibration it advances
// the activations to the next layer's inputs: those on the device with
// dev, else acts.
func quantizeLayer(ck *model.Checkpoint, l int, w runtime.LayerWeights, acts *calibrate.Activations, dev *deviceCalibration, qc hf.Config, opts *Options) ([]layerTensor, error) {
	cfg := ck.Config
	var err error
	for _, role := range linearRoles {
		rows, cols := shapeOf(cfg, role)
		if err := checkFinite(*weightOf(&w, role), cols); err != nil {
			return nil, fmt.Errorf("%s [%d×%d]: %w", model.HFName(role, l), rows, cols, err)
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
		if dev != nil {
			decided, err = quantizeGPTQOnDevice(cfg, &w, dev, opts)
		} else {
			decided, err = quantizeGPTQ(cfg, &w, acts, nil, opts)
		}
	case AWQ:
		if dev != nil {
			decided, err = quantizeAWQOnDevice(cfg, &w, acts, dev, opts)
			break
		}
		// The float layer, for Advance (see awq.Layer).
		var fp *runtime.Layer
		if fp, err = runtime.NewLayerOn(opts.Backend, cfg, w); err != nil {
			return nil, fmt.Errorf("layer %d: %w", l, err)
		}
		defer fp.Release()
		var res *awq.Result
		res, err = awq.Layer(cfg, &w, acts, awq.Options{Scheme: opts.Scheme, Clip: opts.Clip, Backend: opts.Backend, TF32: opts.AWQTF32, Log: opts.Log})
		switch {
		case err != nil:
		case opts.AWQThenGPTQ:
			// GPTQ rounds the scaled (and clipped) weights, calibrated on
			// the scaled layer; later layers see its quantized outputs.
			decided, err = quantizeGPTQ(cfg, &w, acts, nil, opts)
		default:
			decided, next = res.Tensors, fp
		}
	}
	if err != nil {
		return nil, fmt.Errorf("layer %d: %w", l, err)
	}
	var tensors []layerTensor
	for _, spec := range cfg.Tensors() {
		if spec.Layer != l {
			continue
		}
		t := layerTensor{spec: spec}
		switch {
		case isQuantized(spec):
			t.q = decided[spec.Role]
			if opts.Decided != nil {
				opts.Decided(spec.Role, l, t.q)
			}
		case opts.Method == AWQ:
			// AWQ folded its scales into the norms (and biases).
			t.data, err = floatData(ck, spec, vectorOf(&w, spec.Role))
		default:
			t.data, err = copiedData(ck, spec)
		}
		if err != nil {
			return nil, err
		}
		tensors = append(tensors, t)
	}
	if acts == nil || dev != nil {
		return tensors, nil
	}
	if next == nil {
		for role, t := range decided {
			*weightOf(&w, role) = t.Dequantize()
		}
		if next, err = runtime.NewLayerOn(opts.Backend, cfg, w); err != nil {
			return nil, fmt.Errorf("layer %d: %w", l, err)
		}
		defer next.Release()
	}
	return tensors, acts.Advance(next)
}

// layerTensor is one tensor of a quantized layer: its data, or a
// quantized linear that packLayer packs into its stored tensors.
type layerTensor struct {
	spec model.TensorSpec
	q    *quant.Tensor
	data tensorData
}

// packLayer returns a layer's tensors as stored, in order, the quantized
// linears packed in qc's layout.
func packLayer(qc hf.Config, layer []layerTensor) ([]tensorData, error) {
	var tensors []tensorData
	for _, t := range layer {
		if t.q == nil {
			tensors = append(tensors, t.data)
			continue
		}
		packed, err := hf.Pack(qc, t.q)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.spec.Name, err)
		}
		tensors = append(tensors, packedData(t.spec, packed)...)
	}
	return tensors, nil
}

// checkFinite reports the first NaN or infinite weight of a [rows × cols]
// matrix, scanning chunks of rows in parallel.
func checkFinite(w []float32, cols int) error {
	const chunkRows = 64
	rows := (len(w) + cols - 1) / cols
	first := make([]int, (rows+chunkRows-1)/chunkRows)
	linalg.ParallelFor(rows, chunkRows, func(lo, hi int) {
		first[lo/chunkRows] = -1
		for i, v := range w[lo*cols : min(hi*cols, len(w))] {
			if v != v || math.IsInf(float64(v), 0) {
				first[lo/chunkRows] = lo*cols + i
				return
			}
		}
	})
	for _, i := range first {
		if i >= 0 {
			return fmt.Errorf("weight at row %d, column %d is %v", i/cols, i%cols, w[i])
		}
	}
	return nil
}
