package convert

import (
	"time"

	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/runtime"
)

// layerPrefetch reads a checkpoint's layers one ahead of their use: while
// layer l is quantized, layer l+1 is read and widened in the background.
type layerPrefetch struct {
	ck   *model.Checkpoint
	next int                  // the layer being read ahead
	read chan prefetchedLayer // nil when none is
	// logf, when set, notes how long each layer took to read and how
	// long its use waited for it.
	logf func(format string, args ...any)
}

type prefetchedLayer struct {
	w    runtime.LayerWeights
	err  error
	took time.Duration // reading and widening it
}

// readLayer reads and widens layer l of ck, timed.
func readLayer(ck *model.Checkpoint, l int) prefetchedLayer {
	start := time.Now()
	w, err := runtime.ReadLayer(ck, l)
	return prefetchedLayer{w, err, time.Since(start)}
}

// layer returns the weights of layer l and starts reading layer l+1.
func (p *layerPrefetch) layer(l int) (runtime.LayerWeights, error) {
	start := time.Now()
	var r prefetchedLayer
	if p.read != nil && p.next == l {
		r = <-p.read
	} else {
		p.wait()
		r = readLayer(p.ck, l)
	}
	p.read = nil
	if r.err == nil && p.logf != nil {
		p.logf("layer %d read in %.2fs, waited for %.2fs", l, r.took.Seconds(), time.Since(start).Seconds())
	}
	if r.err == nil && l+1 < p.ck.Config.NumLayers {
		p.next, p.read = l+1, make(chan prefetchedLayer, 1)
		go func(ch chan prefetchedLayer) { ch <- readLayer(p.ck, l+1) }(p.read)
	}
	return r.w, r.err
}

// wait waits for a read in flight, so that the checkpoint may be closed.
func (p *layerPrefetch) wait() {
	if p.read != nil {
		<-p.read
		p.read = nil
	}
}
