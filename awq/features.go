package awq

import (
	"math"

	"github.com/qtk-dev/qtk/calibrate"
	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/runtime"
)

// features is what one pass of the float layer over the calibration
// windows leaves for the searches: tokens are numbered through all windows
// laid end to end.
type features struct {
	tokens int
	starts []int // first token of each window

	// absMean is the mean |x| of every input channel of each site over
	// all tokens: llm-awq's x_mean (get_act_scale).
	absMean [numSites][]float32
	// full holds the inputs [tokens × width] of the sites whose scale
	// search evaluates a module on them: mlpIn, downIn and, when v→o is
	// searched, oIn. The attention module's input is recomputed from the
	// activations instead (one RMSNorm per window).
	full [numSites][]float32
	// sample holds the rows the clip search uses [samples × width]:
	// every step-th token. Empty without clip search.
	sample  [numSites][]float32
	samples int

	// attnOut and mlpOut are the float outputs [tokens × hidden] of the
	// self-attention (after o_proj) and the MLP (after down_proj): the
	// targets of every scale search.
	attnOut, mlpOut []float32
}

// captureOptions says what capture keeps.
type captureOptions struct {
	keep [numSites]bool
	// step is the stride of the clip-search sample; 0 samples nothing.
	step int
}

// capture observes the float layer fp (built from w) on every calibration
// window.
func capture(cfg *model.Config, w *runtime.LayerWeights, fp *runtime.Layer, acts *calibrate.Activations, opts captureOptions) (*features, error) {
	h := cfg.HiddenSize
	opts.keep[mlpIn] = true // the MLP's float output is computed from it
	f := &features{}
	maxRows := 0
	for _, x := range acts.X {
		f.starts = append(f.starts, f.tokens)
		f.tokens += len(x) / h
		maxRows = max(maxRows, len(x)/h)
	}
	if opts.step > 0 {
		f.samples = (f.tokens + opts.step - 1) / opts.step
	}

	var sums [numSites][]float64
	var seen [numSites]int
	for s := range numSites {
		sums[s] = make([]float64, s.width(cfg))
		if opts.keep[s] {
			f.full[s] = make([]float32, 0, f.tokens*s.width(cfg))
		}
		if opts.step > 0 {
			f.sample[s] = make([]float32, 0, f.samples*s.width(cfg))
		}
	}
	hook := func(s site) func(x []float32, rows int) {
		width := s.width(cfg)
		return func(x []float32, rows int) {
			sum := sums[s]
			for t := range rows {
				row := x[t*width : (t+1)*width]
				for c, v := range row {
					sum[c] += math.Abs(float64(v))
				}
				if opts.step > 0 && (seen[s]+t)%opts.step == 0 {
					f.sample[s] = append(f.sample[s], row...)
				}
			}
			seen[s] += rows
			if opts.keep[s] {
				f.full[s] = append(f.full[s], x[:rows*width]...)
			}
		}
	}
	hooks := &runtime.Hooks{QKVIn: hook(qkvIn), OIn: hook(oIn), MLPIn: hook(mlpIn), DownIn: hook(downIn)}
	if err := acts.Observe(fp, hooks); err != nil {
		return nil, err
	}
	for s := range numSites {
		f.absMean[s] = make([]float32, len(sums[s]))
		for c, v := range sums[s] {
			f.absMean[s][c] = float32(v / float64(f.tokens))
		}
	}

	// The float targets: one more pass of the attention and the MLP.
	r := acts.Runner()
	f.attnOut = make([]float32, f.tokens*h)
	f.mlpOut = make([]float32, f.tokens*h)
	normed := make([]float32, maxRows*h)
	for i, x := range acts.X {
		lo, hi := f.rows(i, h)
		runtime.RMSNorm(normed[:len(x)], x, w.AttnNorm, cfg.RMSNormEps)
		if err := r.Attention(fp, f.attnOut[lo:hi], normed[:len(x)]); err != nil {
			return nil, err
		}
		if err := r.MLP(fp, f.mlpOut[lo:hi], f.full[mlpIn][lo:hi]); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// captureOn captures the float layer w's features on dev, or on the
// host (its projections on be) without dev.
func captureOn(cfg *model.Config, w *runtime.LayerWeights, acts *calibrate.Activations, dev *deviceSearch, opts captureOptions, be compute.Backend) (*features, error) {
	if dev != nil {
		return dev.capture(opts)
	}
	fp, err := runtime.NewLayerOn(be, cfg, *w)
	if err != nil {
		return nil, err
	}
	defer fp.Release()
	return capture(cfg, w, fp, acts, opts)
}

// rows returns the range of window i's rows in a [tokens × width] matrix.
func (f *features) rows(i, width int) (lo, hi int) {
	end := f.tokens
	if i+1 < len(f.starts) {
		end = f.starts[i+1]
	}
	return f.starts[i] * width, end * width
}

// bytes is the memory the features hold.
func (f *features) bytes() int {
	n := len(f.attnOut) + len(f.mlpOut)
	for s := range numSites {
		n += len(f.full[s]) + len(f.sample[s]) + len(f.absMean[s])
	}
	return 4 * n
}
