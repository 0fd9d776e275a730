package quant

import (
	"fmt"
	"math"
	"runtime"
	"sync"
)

// RTNOptions configures [RTN].
type RTNOptions struct {
	// Clip, when set, picks each group's range by the MSE clip search
	// instead of plain min-max.
	Clip *ClipSearch
	// Importance weighs the clip search's squared error per input channel,
	// [in] non-negative values (activation statistics from a calibration
	// pass, for instance); nil weighs every channel alike. It needs Clip.
	Importance []float32
}

// RTN quantizes the weight matrix w [out×in] (row-major, a linear layer's
// weight) by round-to-nearest: each row's groups of GroupSize consecutive
// input channels get their own scale and zero point, from [Scheme.Params]
// or, with opts.Clip, from [Scheme.ClipParams], and every weight becomes
// [Quantize] on its group's grid. GIdx is the default c / GroupSize.
//
// Weights must be finite; the error for one that is not names its row and
// column (callers add the tensor's name).
func RTN(w []float32, out, in int, s Scheme, opts RTNOptions) (*Tensor, error) {
	if out <= 0 || in <= 0 {
		return nil, fmt.Errorf("rtn: shape [%d, %d] is not positive", out, in)
	}
	if out > math.MaxInt/in || len(w) != out*in {
		return nil, fmt.Errorf("rtn: %d weights for shape [%d, %d]", len(w), out, in)
	}
	if err := s.Validate(in); err != nil {
		return nil, fmt.Errorf("rtn: %w", err)
	}
	if err := opts.validate(in); err != nil {
		return nil, fmt.Errorf("rtn: %w", err)
	}
	for i, v := range w {
		if v-v != 0 { // NaN or ±Inf
			return nil, fmt.Errorf("rtn: row %d, column %d: weight is %v", i/in, i%in, v)
		}
	}

	groups := s.Groups(in)
	t := &Tensor{
		Out: out, In: in, Scheme: s,
		Q:     make([]uint8, out*in),
		Scale: make([]float32, out*groups),
		Zero:  make([]uint8, out*groups),
		GIdx:  s.DefaultGIdx(in),
	}
	forRows(out, in, func(r int) { t.quantizeRow(r, w[r*in:(r+1)*in], opts) })
	return t, nil
}

// validate checks the options against a row length of in channels.
func (o RTNOptions) validate(in int) error {
	if o.Clip != nil {
		if err := o.Clip.Validate(); err != nil {
			return err
		}
	}
	if o.Importance == nil {
		return nil
	}
	if o.Clip == nil {
		return fmt.Errorf("importance weights need a clip search")
	}
	if len(o.Importance) != in {
		return fmt.Errorf("%d importance weights for %d input channels", len(o.Importance), in)
	}
	for c, v := range o.Importance {
		if !(v >= 0) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("importance of input channel %d is %v, want a finite value >= 0", c, v)
		}
	}
	return nil
}

// quantizeRow fills row r of t from its weights w [in].
func (t *Tensor) quantizeRow(r int, w []float32, opts RTNOptions) {
	size := t.In
	if t.Scheme.GroupSize > 0 {
		size = t.Scheme.GroupSize
	}
	groups := t.In / size
	maxq := t.Scheme.MaxQ()
	for g := range groups {
		lo, hi := g*size, (g+1)*size
		var scale float32
		var zero uint8
		if opts.Clip != nil {
			var imp []float32
			if opts.Importance != nil {
				imp = opts.Importance[lo:hi]
			}
			scale, zero = t.Scheme.ClipParams(w[lo:hi], imp, *opts.Clip)
		} else {
			scale, zero = t.Scheme.Params(w[lo:hi])
		}
		t.Scale[r*groups+g] = scale
		t.Zero[r*groups+g] = zero
		q := t.Q[r*t.In+lo : r*t.In+hi]
		for j, x := range w[lo:hi] {
			q[j] = Quantize(x, scale, zero, maxq)
		}
	}
}

// forRows calls fn for every row in [0, out), spreading rows over
// GOMAXPROCS goroutines once the matrix is large enough to pay for them.
// Rows are independent, so the result does not depend on the split.
func forRows(out, in int, fn func(r int)) {
	workers := min(runtime.GOMAXPROCS(0), out)
	if workers <= 1 || out*in < 1<<16 {
		for r := range out {
			fn(r)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (out + workers - 1) / workers
	for start := 0; start < out; start += chunk {
		end := min(start+chunk, out)
		wg.Go(func() {
			for r := start; r < end; r++ {
				fn(r)
			}
		})
	}
	wg.Wait()
}
