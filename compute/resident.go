package compute

// LayerShape describes one LLaMA-family decoder layer for a Resident backend.
type LayerShape struct {
	Hidden, Heads, KVHeads, HeadDim, FFN int
	NormEps                              float32
	// InvFreq holds the RoPE inverse frequency of each of the HeadDim/2
	// rotated pairs, any rope scaling already applied (rotate-half layout,
	// as Hugging Face's LLaMA).
	InvFreq []float32
}

// ResidentWeights are one layer's weights for a Resident backend. The
// projections come from the same backend's NewLinear (or quantized
// equivalent) and are fused as the CPU runtime fuses them: QKV holds the
// rows of q, then k, then v; GateUp the rows of gate, then up.
type ResidentWeights struct {
	QKV, O, GateUp, Down Linear
	InputNorm, PostNorm  []float32 // [Hidden]
	QKVBias              []float32 // [q+k+v rows] or nil
}

// Tensor is float32 memory on a Resident backend's device.
type Tensor interface {
	Len() int
	Upload(src []float32) error   // len(src) <= Len(); fills the first len(src) elements
	Download(dst []float32) error // len(dst) <= Len(); reads the first len(dst) elements
	Release()
}

// Resident is implemented by backends that keep activations on the device
// and run whole decoder layers there.
type Resident interface {
	Backend
	// NewTensor allocates n float32 elements, zeroed.
	NewTensor(n int) (Tensor, error)
	NewLayer(shape LayerShape, w ResidentWeights) (ResidentLayer, error)
	// MatMulLinear sets dst[rows×out] = x[rows×in]·Wᵀ for tensors on the device
	// (the output head, or any projection outside a layer).
	MatMulLinear(l Linear, dst, x Tensor, rows int) error
}

// Linear input roles a ResidentLayer reports to its hooks.
const (
	InputQKV    = "qkv"    // the input norm's output, [rows×Hidden]
	InputO      = "o"      // the attention output, [rows×Heads·HeadDim]
	InputGateUp = "gateup" // the post-attention norm's output, [rows×Hidden]
	InputDown   = "down"   // silu(gate)·up, [rows×FFN]
)

// ResidentLayer is a decoder layer held by a Resident backend.
type ResidentLayer interface {
	// Forward runs the layer in place on x [seqs×n×Hidden]: seqs sequences of
	// n new tokens each, at positions start … start+n-1. With kv (the layer's
	// cache, [seqs × maxLen × 2 × KVHeads × HeadDim]: for each sequence and
	// position the key then the value, after RoPE) the new keys and values
	// are written there and the tokens attend to positions 0 … start+n-1
	// of it; with kv nil, start must be 0 and each sequence attends causally
	// to its own n tokens only (calibration windows). input, when not nil,
	// is called on the device goroutine's behalf with each linear's input
	// (a Tensor valid only during the call, rows = seqs·n) before that linear runs.
	Forward(x Tensor, seqs, n, start int, kv Tensor, maxLen int, input func(role string, in Tensor, rows int) error) error
	Release()
}

// DecodeStep is one new token of one sequence through a model held on a
// Resident backend: each layer's Forward(X, 1, 1, pos, KV[l], MaxLen, nil)
// in order, then MatMulLinear(Head, Logits, X, 1).
type DecodeStep struct {
	X, Logits Tensor
	Layers    []ResidentLayer
	KV        []Tensor // each layer's cache
	MaxLen    int
	Head      Linear
}

// StepRecorder is implemented by Resident backends that run a DecodeStep
// as one unit, recorded once and replayed at every position (on CUDA, a
// graph), instead of launching its work piece by piece from the host.
type StepRecorder interface {
	NewDecodeStep(d DecodeStep) (Step, error)
}

// Step is a DecodeStep held by a backend, for the tensors, layers and
// head it names, which must outlive it.
type Step interface {
	// Run runs the step for the token at position pos (0 ≤ pos < MaxLen)
	// in one hand-off to the device: it uploads the token's embedding to
	// X, runs the layers and the head, and downloads X (the last hidden
	// row) to hidden and the first len(logits) values of Logits to logits.
	Run(pos int, embedding, hidden, logits []float32) error
	Release()
}

// HalfLinears is implemented by backends that can hold a weight in IEEE
// half precision (float16), half the bytes of NewLinear's float32.
type HalfLinears interface {
	// NewHalfLinear holds w [out×in] rounded to float16, for weights whose
	// products bear a relative rounding of about 5e-4 per weight (an
	// output head). w may be changed by the caller afterwards.
	NewHalfLinear(w []float32, out, in int) (Linear, error)
}
