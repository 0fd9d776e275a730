package convert

import (
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/runtime"
)

// layerPrefetch reads a checkpoint's layers one ahead of their use: while
// layer l is quantized, layer l+1 is read and widened in the background.
type layerPrefetch struct {
	ck   *model.Checkpoint
	next int                  // the layer being read ahead
	read chan prefetchedLayer // nil when none is
}

type prefetchedLayer struct {
	w   runtime.LayerWeights
	err error
}

// layer returns the weights of layer l and starts reading layer l+1.
func (p *layerPrefetch) layer(l int) (runtime.LayerWeights, error) {
	var r prefetchedLayer
	if p.read != nil && p.next == l {
		r = <-p.read
	} else {
		p.wait()
		r.w, r.err = runtime.ReadLayer(p.ck, l)
	}
	p.read = nil
	if r.err == nil && l+1 < p.ck.Config.NumLayers {
		p.next, p.read = l+1, make(chan prefetchedLayer, 1)
		go func(ch chan prefetchedLayer) {
			w, err := runtime.ReadLayer(p.ck, l+1)
			ch <- prefetchedLayer{w, err}
		}(p.read)
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
