package compute

import (
	"fmt"

	"github.com/qtk-dev/qtk/internal/cuda"
)

// qDim, kvDim and qkvRows are the widths of a layer's queries, of its keys
// (or values), and of its fused q, k, v projection.
func (s LayerShape) qDim() int    { return s.Heads * s.HeadDim }
func (s LayerShape) kvDim() int   { return s.KVHeads * s.HeadDim }
func (s LayerShape) qkvRows() int { return s.qDim() + 2*s.kvDim() }

// check reports what a Resident layer of shape cannot take from w.
func (s LayerShape) check(w ResidentWeights) error {
	switch {
	case s.Hidden <= 0 || s.Heads <= 0 || s.KVHeads <= 0 || s.HeadDim <= 0 || s.FFN <= 0:
		return fmt.Errorf("sizes must be positive: %+v", s)
	case s.Heads%s.KVHeads != 0:
		return fmt.Errorf("%d heads do not share %d KV heads evenly", s.Heads, s.KVHeads)
	case s.HeadDim%4 != 0 || s.HeadDim > cuda.MaxAttentionHeadDim:
		return fmt.Errorf("head dim %d: want a multiple of 4 up to %d", s.HeadDim, cuda.MaxAttentionHeadDim)
	case len(s.InvFreq) != s.HeadDim/2:
		return fmt.Errorf("%d RoPE inverse frequencies for head dim %d", len(s.InvFreq), s.HeadDim)
	case !(s.NormEps >= 0):
		return fmt.Errorf("norm epsilon %v", s.NormEps)
	case len(w.InputNorm) != s.Hidden || len(w.PostNorm) != s.Hidden:
		return fmt.Errorf("norms of %d and %d values for hidden size %d", len(w.InputNorm), len(w.PostNorm), s.Hidden)
	case w.QKVBias != nil && len(w.QKVBias) != s.qkvRows():
		return fmt.Errorf("q, k, v bias of %d values, want %d", len(w.QKVBias), s.qkvRows())
	}
	return nil
}

// checkForward reports what is wrong with the arguments of a Forward of a
// layer of hidden size hidden: x holds xLen elements, kv kvLen (-1 when
// there is no cache).
func checkForward(s LayerShape, xLen, seqs, n, start, kvLen, maxLen int) error {
	switch {
	case seqs <= 0 || n <= 0 || start < 0:
		return fmt.Errorf("%d sequences of %d tokens from position %d", seqs, n, start)
	case seqs > 65535:
		return fmt.Errorf("%d sequences: at most 65535", seqs)
	case xLen < seqs*n*s.Hidden:
		return fmt.Errorf("x holds %d values, want %d sequences × %d tokens × %d", xLen, seqs, n, s.Hidden)
	case kvLen < 0 && start != 0:
		return fmt.Errorf("tokens from position %d without a cache", start)
	case kvLen >= 0 && start+n > maxLen:
		return fmt.Errorf("tokens up to position %d in a cache of %d", start+n, maxLen)
	case kvLen >= 0 && kvLen < seqs*maxLen*2*s.kvDim():
		return fmt.Errorf("cache holds %d values, want %d sequences × %d positions × 2 × %d", kvLen, seqs, maxLen, s.kvDim())
	}
	return nil
}

// checkLinear reports a projection that is not on the device or, for a
// float32 one, not out×in. A nil one is fine until a Forward needs it.
func checkLinear(name string, l Linear, out, in int) error {
	if l == nil {
		return nil
	}
	if _, ok := l.(deviceLinear); !ok {
		return fmt.Errorf("%s projection (%T) is not on the device", name, l)
	}
	if g, ok := l.(*gpuLinear); ok && (g.out != out || g.in != in) {
		return fmt.Errorf("%s projection is [%d×%d], want [%d×%d]", name, g.out, g.in, out, in)
	}
	return nil
}

// MaxResidentHeadDim is the largest head dimension the GPU backend's
// resident layers take (a multiple of 4 at most this).
const MaxResidentHeadDim = cuda.MaxAttentionHeadDim
