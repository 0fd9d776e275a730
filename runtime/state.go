package runtime

import (
	"math"

	"github.com/qtk-dev/qtk/model"
)

// State is one sequence being run: its KV cache, its RoPE tables and the
// scratch buffers of the forward pass, allocated once so that Forward
// allocates nothing after the first call of a given batch size.
type State struct {
	m      *Model
	maxLen int
	length int
	// keys and values per layer, each [kvHead][position][headDim].
	keys, values [][]float32
	rope         ropeTable
	scratch      scratch
}

// NewState returns an empty sequence that can hold up to maxLen tokens.
func (m *Model) NewState(maxLen int) *State {
	cfg := m.Config
	s := &State{m: m, maxLen: maxLen, rope: newRopeTable(cfg, maxLen)}
	perLayer := cfg.NumKVHeads * maxLen * cfg.HeadDim
	s.keys = make([][]float32, cfg.NumLayers)
	s.values = make([][]float32, cfg.NumLayers)
	for l := range s.keys {
		s.keys[l] = make([]float32, perLayer)
		s.values[l] = make([]float32, perLayer)
	}
	return s
}

// Len is the number of tokens in the cache.
func (s *State) Len() int { return s.length }

// Cap is the most tokens the cache can hold.
func (s *State) Cap() int { return s.maxLen }

// Reset empties the cache, keeping its memory.
func (s *State) Reset() { s.length = 0 }

// ropeTable holds cos and sin of position·invFreq, [positions][headDim/2].
type ropeTable struct {
	half     int
	cos, sin []float32
}

func newRopeTable(cfg *model.Config, positions int) ropeTable {
	inv := cfg.InvFrequencies()
	half := len(inv)
	rt := ropeTable{half: half, cos: make([]float32, positions*half), sin: make([]float32, positions*half)}
	for p := 0; p < positions; p++ {
		for i, f := range inv {
			// The angle is rounded to float32 first, as transformers does.
			angle := float64(float32(p) * float32(f))
			rt.cos[p*half+i] = float32(math.Cos(angle))
			rt.sin[p*half+i] = float32(math.Sin(angle))
		}
	}
	return rt
}

func (rt *ropeTable) at(pos int) (cos, sin []float32) {
	return rt.cos[pos*rt.half : (pos+1)*rt.half], rt.sin[pos*rt.half : (pos+1)*rt.half]
}

// scratch holds the activations of one forward call of up to rows tokens.
type scratch struct {
	rows   int
	x      []float32 // [rows × hidden] residual stream
	normed []float32 // [rows × hidden]
	qkv    []float32 // [rows × (qDim+2·kvDim)]
	attn   []float32 // [rows × qDim]
	proj   []float32 // [rows × hidden]
	gateUp []float32 // [rows × 2·ffn]
	act    []float32 // [rows × ffn]
	// Attention workers' buffers, grown on demand.
	workers []groupScratch
}

// attentionWorkers returns the buffers of n attention workers; call it
// before starting them.
func (sc *scratch) attentionWorkers(n int) []groupScratch {
	for len(sc.workers) < n {
		sc.workers = append(sc.workers, groupScratch{})
	}
	return sc.workers[:n]
}

func (sc *scratch) ensure(cfg *model.Config, rows int) *scratch {
	if sc.rows >= rows {
		return sc
	}
	h := cfg.HiddenSize
	*sc = scratch{
		rows:    rows,
		x:       make([]float32, rows*h),
		normed:  make([]float32, rows*h),
		qkv:     make([]float32, rows*(cfg.QDim()+2*cfg.KVDim())),
		attn:    make([]float32, rows*cfg.QDim()),
		proj:    make([]float32, rows*h),
		gateUp:  make([]float32, rows*2*cfg.IntermediateSize),
		act:     make([]float32, rows*cfg.IntermediateSize),
		workers: sc.workers,
	}
	return sc
}
