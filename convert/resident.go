package convert

import (
	"errors"
	"fmt"
	"time"

	"github.com/qtk-dev/qtk/calibrate"
	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/gptq"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/runtime"
)

// GPTQ's calibration on a Resident backend: the activations of every
// window stay on the device for the whole run, and each layer's passes run
// there, its Hessians accumulated from the device's own copies of the
// projections' inputs. So does AWQ (rounding with RTN) on a backend that
// runs its searches (compute.AWQSearcher, convert/awq_device.go). The
// GGUF-calibrated path keeps its passes over the host activations (the
// CPU runtime, with the projections on the backend) for now.

// deviceChunkRows bounds the tokens of one device Forward: the scratch of
// a layer pass grows with it (about 3.7 GB for Llama-2-7B at 16,384).
const deviceChunkRows = 16384

// deviceCalibration holds the calibration activations on a Resident
// backend: x [windows × n × hidden], the inputs of the current layer,
// and work, the copy a pass that only observes runs on.
type deviceCalibration struct {
	r          compute.Resident
	cfg        *model.Config
	x, work    compute.Tensor
	windows, n int
	chunk      int // windows per Forward
}

// newDeviceCalibration uploads the activations when GPTQ runs on a
// Resident backend that supports the model's layers, or AWQ on an
// AWQSearcher; it returns nil
// otherwise (the passes then run on the CPU runtime).
func newDeviceCalibration(cfg *model.Config, acts *calibrate.Activations, opts *Options) (*deviceCalibration, error) {
	r, ok := opts.Backend.(compute.Resident)
	onDevice := opts.Method == GPTQ
	if opts.Method == AWQ && !opts.AWQThenGPTQ {
		_, onDevice = opts.Backend.(compute.AWQSearcher)
	}
	if !ok || acts == nil || !onDevice || !runtime.ResidentSupports(cfg) {
		return nil, nil
	}
	h := cfg.HiddenSize
	d := &deviceCalibration{r: r, cfg: cfg, windows: len(acts.X), n: len(acts.X[0]) / h}
	d.chunk = min(d.windows, max(1, deviceChunkRows/d.n))
	var err error
	if d.x, err = r.NewTensor(d.windows * d.n * h); err != nil {
		return nil, fmt.Errorf("calibration activations on the device: %w", err)
	}
	if d.work, err = r.NewTensor(d.chunk * d.n * h); err != nil {
		d.release()
		return nil, fmt.Errorf("calibration activations on the device: %w", err)
	}
	if err := d.upload(acts.X); err != nil {
		d.release()
		return nil, err
	}
	return d, nil
}

func (d *deviceCalibration) release() {
	for _, t := range []compute.Tensor{d.x, d.work} {
		if t != nil {
			t.Release()
		}
	}
}

// window returns the activations of windows [from, from+count) on the
// device.
func (d *deviceCalibration) window(t compute.Tensor, from, count int) (compute.Tensor, error) {
	size := d.n * d.cfg.HiddenSize
	return compute.TensorView(t, from*size, count*size)
}

// upload copies the host activations x, one slice a window, to the
// device.
func (d *deviceCalibration) upload(x [][]float32) error {
	for i, w := range x {
		v, err := d.window(d.x, i, 1)
		if err == nil {
			err = v.Upload(w)
		}
		if err != nil {
			return fmt.Errorf("calibration window %d to the device: %w", i, err)
		}
	}
	return nil
}

// download copies the device activations back into x.
func (d *deviceCalibration) download(x [][]float32) error {
	for i, w := range x {
		v, err := d.window(d.x, i, 1)
		if err == nil {
			err = v.Download(w)
		}
		if err != nil {
			return fmt.Errorf("calibration window %d from the device: %w", i, err)
		}
	}
	return nil
}

// quantizeGPTQOnDevice is quantizeGPTQ with the calibration passes on
// the device; it then advances the device's activations through the
// quantized layer.
func quantizeGPTQOnDevice(cfg *model.Config, w *runtime.LayerWeights, dev *deviceCalibration, opts *Options) (decisions, error) {
	dl := dev.layer(w)
	defer dl.release()
	decided, err := quantizeGPTQ(cfg, w, nil, dl, opts)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := dl.advance(); err != nil { // through the quantized projections
		return nil, err
	}
	opts.logf("gptq: activations advanced on the device in %.2fs", time.Since(start).Seconds())
	return decided, nil
}

// deviceLayer is the layer being quantized as the device sees it. Its
// projections are uploaded from w when a pass first runs them and
// replaced stage by stage by their quantized versions: with
// true-sequential stages, only the quantized ones ever are.
type deviceLayer struct {
	d     *deviceCalibration
	w     *runtime.LayerWeights
	shape compute.LayerShape
	rw    compute.ResidentWeights
}

// layer starts the device layer of w, which its passes read as it changes.
func (d *deviceCalibration) layer(w *runtime.LayerWeights) *deviceLayer {
	return &deviceLayer{d: d, w: w, shape: runtime.ResidentShape(d.cfg), rw: runtime.ResidentVectors(w)}
}

func (dl *deviceLayer) release() { runtime.ReleaseProjections(dl.rw) }

// projection points at the projection reading input.
func (dl *deviceLayer) projection(input string) *compute.Linear {
	switch input {
	case compute.InputQKV:
		return &dl.rw.QKV
	case compute.InputO:
		return &dl.rw.O
	case compute.InputGateUp:
		return &dl.rw.GateUp
	}
	return &dl.rw.Down
}

// set uploads w's current weights of the projection reading input.
func (dl *deviceLayer) set(input string) error {
	l, err := runtime.NewProjection(dl.d.r, dl.d.cfg, dl.w, input)
	if err != nil {
		return err
	}
	p := dl.projection(input)
	if *p != nil {
		(*p).Release()
	}
	*p = l
	return nil
}

// need uploads the projections that a pass stopping at input stop runs
// (all of them for stop "") and that are not on the device yet.
func (dl *deviceLayer) need(stop string) error {
	for _, input := range inputOrder {
		if input == stop {
			return nil
		}
		if *dl.projection(input) == nil {
			if err := dl.set(input); err != nil {
				return err
			}
		}
	}
	return nil
}

// update uploads the quantized projections of stage's roles from w.
func (dl *deviceLayer) update(stage []model.Role) error {
	done := map[string]bool{}
	for _, role := range stage {
		if input := inputOf(role); !done[input] {
			done[input] = true
			if err := dl.set(input); err != nil {
				return err
			}
		}
	}
	return nil
}

// errObserved ends a pass once the last Hessian of a stage has its
// inputs: the rest of the layer is not needed.
var errObserved = errors.New("stage observed")

// inputOrder is the order in which a layer pass reaches the inputs.
var inputOrder = []string{compute.InputQKV, compute.InputO, compute.InputGateUp, compute.InputDown}

// observe accumulates hessians (by input, as inputOf names them) over
// every window, one Hessian update a window as the CPU passes make. On
// failure the Hessians are released.
func (dl *deviceLayer) observe(hessians map[string]*gptq.Hessian) error {
	err := dl.observeAll(hessians)
	if err != nil {
		releaseAll(hessians)
	}
	return err
}

func (dl *deviceLayer) observeAll(hessians map[string]*gptq.Hessian) error {
	d := dl.d
	last := ""
	for _, input := range inputOrder {
		if hessians[input] != nil {
			last = input
		}
	}
	if err := dl.need(last); err != nil {
		return err
	}
	hook := func(input string, in compute.Tensor, rows int) error {
		if h := hessians[input]; h != nil {
			width := in.Len() / rows
			for w := 0; w < rows/d.n; w++ {
				v, err := compute.TensorView(in, w*d.n*width, d.n*width)
				if err != nil {
					return err
				}
				h.AddTensor(v, d.n)
			}
			if err := h.Err(); err != nil {
				return err
			}
		}
		if input == last {
			return errObserved
		}
		return nil
	}
	return dl.forEachChunk(func(ly compute.ResidentLayer, x compute.Tensor, windows int) error {
		work, err := compute.TensorView(d.work, 0, x.Len())
		if err != nil {
			return err
		}
		if err := compute.CopyTensor(work, x, x.Len()); err != nil {
			return err
		}
		err = ly.Forward(work, windows, d.n, 0, nil, 0, hook)
		if errors.Is(err, errObserved) {
			return nil
		}
		return err
	})
}

// advance runs the layer over every window in place: the activations
// become the next layer's inputs.
func (dl *deviceLayer) advance() error {
	if err := dl.need(""); err != nil {
		return err
	}
	return dl.forEachChunk(func(ly compute.ResidentLayer, x compute.Tensor, windows int) error {
		return ly.Forward(x, windows, dl.d.n, 0, nil, 0, nil)
	})
}

// forEachChunk builds the device layer from the current projections and
// calls run with it on each chunk of windows of the activations.
func (dl *deviceLayer) forEachChunk(run func(ly compute.ResidentLayer, x compute.Tensor, windows int) error) error {
	d := dl.d
	ly, err := d.r.NewLayer(dl.shape, dl.rw)
	if err != nil {
		return err
	}
	defer ly.Release()
	for from := 0; from < d.windows; from += d.chunk {
		count := min(d.chunk, d.windows-from)
		x, err := d.window(d.x, from, count)
		if err != nil {
			return err
		}
		if err := run(ly, x, count); err != nil {
			return err
		}
	}
	return nil
}
