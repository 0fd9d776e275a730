package awq

import (
	"fmt"
	"math"

	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/quant"
	"github.com/qtk-dev/qtk/runtime"
)

// module is what a scale group's loss is measured on (llm-awq's
// module2inspect).
type module int

const (
	attentionModule module = iota // self-attention output, o_proj in float
	mlpModule                     // MLP output, down_proj in float
	linearModule                  // the group's single linear
)

// A scaleGroup is one of llm-awq's LLaMA mappings: linears reading one
// input, scaled up per input channel by s, with 1/s folded into prev, the
// operation producing that input.
type scaleGroup struct {
	prev    model.Role
	linears []model.Role
	module  module
	// inMLP is set for the groups inside the MLP, whose target is the
	// MLP's float output; the others target the self-attention's.
	inMLP bool
}

// input is the site all of the group's linears read.
func (g scaleGroup) input() site { return inputOf[g.linears[0]] }

// scaleGroups lists the groups searched in a layer of cfg, in the
// reference's order. v→o is searched only where every input channel of
// o_proj is one output channel of v_proj (as many kv heads as query
// heads): with grouped-query attention a query head's channel would need
// the scale of the kv head it shares. llm-awq tests equal weight shapes,
// the same condition for models whose q dimension is the hidden size (its
// PR #67).
func scaleGroups(cfg *model.Config) []scaleGroup {
	groups := []scaleGroup{
		{model.AttnNorm, []model.Role{model.AttnQ, model.AttnK, model.AttnV}, attentionModule, false},
		{model.AttnV, []model.Role{model.AttnO}, linearModule, false},
		{model.FFNNorm, []model.Role{model.FFNGate, model.FFNUp}, mlpModule, true},
		{model.FFNUp, []model.Role{model.FFNDown}, linearModule, true},
	}
	if cfg.KVDim() != cfg.QDim() {
		groups = append(groups[:1], groups[2:]...)
	}
	return groups
}

// minScale is llm-awq's lower clamp of x_mean^ratio.
const minScale = 1e-4

// candidateScales returns the scales of one grid point:
// s = max(x_mean^ratio, 1e-4), normalized by sqrt(max(s)·min(s)) so that
// their largest and smallest values are reciprocal.
func candidateScales(xMean []float32, ratio float64) []float32 {
	s := make([]float64, len(xMean))
	lo, hi := math.Inf(1), math.Inf(-1)
	for c, x := range xMean {
		s[c] = max(math.Pow(float64(x), ratio), minScale)
		lo, hi = min(lo, s[c]), max(hi, s[c])
	}
	norm := math.Sqrt(lo * hi)
	out := make([]float32, len(s))
	for c, v := range s {
		out[c] = float32(v / norm)
	}
	return out
}

// fakeQuant returns Q(W·s)/s: the weights w [out × in] scaled up per input
// channel, quantized with the scheme's min-max RTN and dequantized, then
// scaled back. This is the float weight the scaled, quantized layer
// effectively applies to the unscaled input.
func fakeQuant(w []float32, out, in int, s []float32, scheme quant.Scheme) ([]float32, error) {
	ws := make([]float32, len(w))
	for r := range out {
		for c, v := range w[r*in : (r+1)*in] {
			ws[r*in+c] = v * s[c]
		}
	}
	t, err := quant.RTN(ws, out, in, scheme, quant.RTNOptions{})
	if err != nil {
		return nil, err
	}
	dq := t.Dequantize()
	for r := range out {
		row := dq[r*in : (r+1)*in]
		for c := range row {
			row[c] /= s[c]
		}
	}
	return dq, nil
}

// searcher runs the scale searches of one layer against its float
// outputs: on the host, or with dev on a compute.AWQSearcher's device.
type searcher struct {
	cfg    *model.Config
	w      *runtime.LayerWeights // the float weights, never written
	f      *features
	x      [][]float32 // calibration activations at the layer input
	runner *runtime.LayerRunner
	opts   Options
	dev    *deviceSearch

	out, normed []float32 // scratch [seqLen × hidden] of the host search
}

// search tries every grid point of group g and returns its report: the
// loss of each ratio and the scales of the best.
func (s *searcher) search(g scaleGroup) (ScaleReport, error) {
	grid := s.opts.Grid
	rep := ScaleReport{Prev: g.prev, Linears: g.linears, Best: -1}
	xMean := s.f.absMean[g.input()]
	scales := make([][]float32, grid)
	for i := range grid {
		scales[i] = candidateScales(xMean, float64(i)/float64(grid))
	}
	var err error
	if s.dev != nil {
		rep.Losses, err = s.dev.scaleLosses(g, scales, s.opts.Scheme, s.f.tokens*s.cfg.HiddenSize)
	} else {
		rep.Losses, err = s.hostLosses(g, scales)
	}
	if err != nil {
		return rep, err
	}
	best := math.Inf(1)
	for i, loss := range rep.Losses {
		if loss < best { // ties keep the smaller ratio, as the reference
			best, rep.Best, rep.Scales = loss, i, scales[i]
		}
	}
	if rep.Best < 0 {
		return rep, fmt.Errorf("scales for %v: no grid point gave a finite loss", g.linears)
	}
	rep.Ratio = float64(rep.Best) / float64(grid)
	return rep, nil
}

// hostLosses returns the loss of group g with each grid point's scales,
// computed on the host (the projections on the backend).
func (s *searcher) hostLosses(g scaleGroup, scales [][]float32) ([]float64, error) {
	losses := make([]float64, len(scales))
	for i, sc := range scales {
		trial := *s.w
		for _, r := range g.linears {
			out, in := shape(s.cfg, r)
			fq, err := fakeQuant(tensor(s.w, r), out, in, sc, s.opts.Scheme)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", r, err)
			}
			*fields[r](&trial) = fq
		}
		var err error
		if losses[i], err = s.loss(g, &trial); err != nil {
			return nil, err
		}
	}
	return losses, nil
}

// loss is the mean squared difference between group g's module computed
// with the trial weights and with the float weights, over every element
// of its output on every calibration token.
func (s *searcher) loss(g scaleGroup, trial *runtime.LayerWeights) (float64, error) {
	h := s.cfg.HiddenSize
	var ly *runtime.Layer
	var linear compute.Linear
	var bias []float32
	var err error
	switch g.module {
	case attentionModule, mlpModule:
		if ly, err = runtime.NewLayerOn(s.opts.Backend, s.cfg, *trial); err != nil {
			return 0, err
		}
		defer ly.Release()
	case linearModule:
		r := g.linears[0]
		out, in := shape(s.cfg, r)
		if linear, err = s.opts.Backend.NewLinear(tensor(trial, r), out, in); err != nil {
			return 0, err
		}
		defer linear.Release()
		bias = tensor(trial, biasOf[r])
	}
	target := s.f.attnOut
	if g.inMLP {
		target = s.f.mlpOut
	}
	width := g.input().width(s.cfg)

	var sum float64
	for i, x := range s.x {
		n := len(x) / h
		out := s.out[:n*h]
		switch g.module {
		case attentionModule:
			normed := s.normed[:n*h]
			runtime.RMSNorm(normed, x, s.w.AttnNorm, s.cfg.RMSNormEps)
			if err := s.runner.Attention(ly, out, normed); err != nil {
				return 0, err
			}
		case mlpModule:
			lo, hi := s.f.rows(i, h)
			if err := s.runner.MLP(ly, out, s.f.full[mlpIn][lo:hi]); err != nil {
				return 0, err
			}
		case linearModule:
			lo, hi := s.f.rows(i, width)
			linear.MatMul(out, s.f.full[g.input()][lo:hi], n)
			if err := linear.Err(); err != nil {
				return 0, err
			}
			addBias(out, bias)
		}
		lo, hi := s.f.rows(i, h)
		for j, v := range target[lo:hi] {
			d := float64(out[j] - v)
			sum += d * d
		}
	}
	return sum / float64(s.f.tokens*h), nil
}

// addBias adds bias (nil: none) to every row of x.
func addBias(x, bias []float32) {
	if bias == nil {
		return
	}
	for r := 0; r < len(x); r += len(bias) {
		row := x[r : r+len(bias)]
		for c, b := range bias {
			row[c] += b
		}
	}
}
