package cuda

import (
	"errors"
	"sync"
)

// The driver's streams and graphs, bound on first use so that a driver
// without them still serves everything else.
var (
	cuStreamCreate       func(stream *uintptr, flags uint32) int32
	cuStreamDestroy      func(stream uintptr) int32
	cuStreamBeginCapture func(stream uintptr, mode int32) int32
	cuStreamEndCapture   func(stream uintptr, graph *uintptr) int32
	cuGraphInstantiate   func(exec *uintptr, graph uintptr, flags uint64) int32
	cuGraphLaunch        func(exec uintptr, stream uintptr) int32
	cuGraphExecDestroy   func(exec uintptr) int32
	cuGraphDestroy       func(graph uintptr) int32
)

var graphAPI struct {
	once sync.Once
	err  error
}

func loadGraphs() error {
	graphAPI.once.Do(func() {
		graphAPI.err = bind(driver.lib, "libcuda", []symbol{
			{&cuStreamCreate, "cuStreamCreate"},
			{&cuStreamDestroy, "cuStreamDestroy_v2"},
			{&cuStreamBeginCapture, "cuStreamBeginCapture_v2"},
			{&cuStreamEndCapture, "cuStreamEndCapture"},
			{&cuGraphInstantiate, "cuGraphInstantiateWithFlags"},
			{&cuGraphLaunch, "cuGraphLaunch"},
			{&cuGraphExecDestroy, "cuGraphExecDestroy"},
			{&cuGraphDestroy, "cuGraphDestroy"},
		})
	})
	return graphAPI.err
}

// Stream flags and capture modes of the driver API.
const (
	streamNonBlocking      = 1
	captureModeThreadLocal = 1
)

// Graph is a sequence of kernel launches recorded once and replayed by
// one call, without the cost of launching each kernel from the host.
type Graph struct{ exec uintptr }

// Record runs f with the kernels it launches recorded into a Graph
// instead of run. f may launch qtk's kernels and cuBLAS products (its
// handle, if created before, is pointed at the recorded stream) but must
// not copy or allocate.
func (c *Ctx) Record(f func() error) (Graph, error) {
	if err := loadGraphs(); err != nil {
		return Graph{}, err
	}
	var stream uintptr
	if err := check("cuStreamCreate", cuStreamCreate(&stream, streamNonBlocking)); err != nil {
		return Graph{}, err
	}
	defer cuStreamDestroy(stream)
	if err := check("cuStreamBeginCapture", cuStreamBeginCapture(stream, captureModeThreadLocal)); err != nil {
		return Graph{}, err
	}
	c.stream = stream
	ferr := c.blasOn(stream)
	if ferr == nil {
		ferr = f()
	}
	c.stream = 0
	ferr = errors.Join(ferr, c.blasOn(0))
	var graph uintptr
	if err := errors.Join(ferr, check("cuStreamEndCapture", cuStreamEndCapture(stream, &graph))); err != nil {
		if graph != 0 {
			cuGraphDestroy(graph)
		}
		return Graph{}, err
	}
	defer cuGraphDestroy(graph)
	var g Graph
	if err := check("cuGraphInstantiate", cuGraphInstantiate(&g.exec, graph, 0)); err != nil {
		return Graph{}, err
	}
	return g, nil
}

// Replay launches the recorded kernels, in order.
func (c *Ctx) Replay(g Graph) error { return check("cuGraphLaunch", cuGraphLaunch(g.exec, 0)) }

// FreeGraph releases a graph; the zero Graph is ignored.
func (c *Ctx) FreeGraph(g Graph) error {
	if g.exec == 0 {
		return nil
	}
	return check("cuGraphExecDestroy", cuGraphExecDestroy(g.exec))
}

// blasOn points the cuBLAS handle, when there is one, at stream.
func (c *Ctx) blasOn(stream uintptr) error {
	if c.blas == 0 {
		return nil
	}
	return checkBLAS("cublasSetStream", cublasSetStream(c.blas, stream))
}
