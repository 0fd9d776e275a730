package awq

import (
	"github.com/qtk-dev/qtk/calibrate"
	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/quant"
	"github.com/qtk-dev/qtk/runtime"
)

// deviceSearch runs the searches' work over the calibration tokens on a
// compute.AWQSearcher: the activations, the captured inputs and the float
// targets stay on its device, and each search returns only its losses.
// The choices stay those of the host search.
type deviceSearch struct {
	be    compute.AWQSearcher
	rw    compute.ResidentWeights // the float projections
	layer compute.AWQLayer
	x     compute.Tensor // the activations, windows end to end
	ownX  bool           // x was uploaded here
	// advance writes the float layer's output over x in the capture.
	advance    bool
	windows, n int
}

// siteInputs names every site as resident layers name their inputs.
var siteInputs = [numSites]string{
	qkvIn: compute.InputQKV, oIn: compute.InputO, mlpIn: compute.InputGateUp, downIn: compute.InputDown,
}

// newDeviceSearch holds the float layer w for the searches on o.Backend,
// or returns nil when they run on the host: the backend is no
// compute.AWQSearcher, its resident layers do not take cfg, or the
// calibration windows differ in length.
func newDeviceSearch(cfg *model.Config, w *runtime.LayerWeights, acts *calibrate.Activations, o Options) (*deviceSearch, error) {
	be, ok := o.Backend.(compute.AWQSearcher)
	if !ok || !runtime.ResidentSupports(cfg) {
		return nil, nil
	}
	for _, x := range acts.X {
		if len(x) != len(acts.X[0]) {
			return nil, nil
		}
	}
	h := cfg.HiddenSize
	d := &deviceSearch{
		be: be, x: o.DeviceInputs, windows: len(acts.X), n: len(acts.X[0]) / h,
		advance: o.DeviceInputs != nil && o.AdvanceDeviceInputs,
	}
	var err error
	if d.rw, err = runtime.NewResidentWeights(be, cfg, w); err != nil {
		return nil, err
	}
	if d.layer, err = be.NewAWQLayer(runtime.ResidentShape(cfg), d.rw, o.TF32); err != nil {
		d.release()
		return nil, err
	}
	if d.x == nil {
		if err := d.upload(acts.X, h); err != nil {
			d.release()
			return nil, err
		}
	}
	return d, nil
}

// upload copies the activations to the device, windows end to end.
func (d *deviceSearch) upload(x [][]float32, h int) error {
	var err error
	if d.x, err = d.be.NewTensor(d.windows * d.n * h); err != nil {
		return err
	}
	d.ownX = true
	for i, w := range x {
		v, err := compute.TensorView(d.x, i*len(w), len(w))
		if err == nil {
			err = v.Upload(w)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *deviceSearch) release() {
	if d.layer != nil {
		d.layer.Release()
	}
	runtime.ReleaseProjections(d.rw)
	if d.ownX {
		d.x.Release()
	}
}

// capture is the device's version of capture: the statistics and samples
// come to the host, the inputs and targets stay on the device.
func (d *deviceSearch) capture(opts captureOptions) (*features, error) {
	copts := compute.AWQCaptureOptions{Step: opts.step, Advance: d.advance}
	for s := range numSites {
		if opts.keep[s] {
			copts.Keep = append(copts.Keep, siteInputs[s])
		}
	}
	c, err := d.layer.Capture(d.x, d.windows, d.n, copts)
	if err != nil {
		return nil, err
	}
	f := &features{tokens: c.Tokens}
	for i := range d.windows {
		f.starts = append(f.starts, i*d.n)
	}
	if opts.step > 0 {
		f.samples = (f.tokens + opts.step - 1) / opts.step
	}
	for s := range numSites {
		sums := c.AbsSum[siteInputs[s]]
		f.absMean[s] = make([]float32, len(sums))
		for ch, v := range sums {
			f.absMean[s][ch] = float32(v / float64(f.tokens))
		}
		f.sample[s] = c.Sample[siteInputs[s]]
	}
	return f, nil
}

// scaleLosses is hostLosses on the device: the mean squared error of
// group g's module with each grid point's scales, over elements output
// values.
func (d *deviceSearch) scaleLosses(g scaleGroup, scales [][]float32, scheme quant.Scheme, elements int) ([]float64, error) {
	sums, err := d.layer.ScaleLosses(siteInputs[g.input()], scales, scheme)
	if err != nil {
		return nil, err
	}
	losses := make([]float64, len(sums))
	for i, v := range sums {
		losses[i] = v / float64(elements)
	}
	return losses, nil
}

// clipLosses is the host's clipLosses on the device.
func (d *deviceSearch) clipLosses(w []float32, out, in int, x []float32, scheme quant.Scheme) ([]float64, error) {
	return d.be.ClipLosses(w, out, in, x, len(x)/in, scheme, clipCandidates, clipSteps)
}
