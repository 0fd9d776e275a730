package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/model"
)

// newResidentLayer holds w on r as a device layer; cleanup releases it
// and its projections.
func newResidentLayer(t *testing.T, r compute.Resident, cfg *model.Config, w LayerWeights) compute.ResidentLayer {
	t.Helper()
	rw, err := NewResidentWeights(r, cfg, &w)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ReleaseProjections(rw) })
	ly, err := r.NewLayer(ResidentShape(cfg), rw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ly.Release)
	return ly
}

// residentBackend returns the GPU as a Resident backend, or skips.
func residentBackend(t *testing.T) compute.Resident {
	t.Helper()
	be, err := compute.OpenCUDA(0)
	if err != nil {
		t.Skipf("no GPU: %v", err)
	}
	t.Cleanup(be.Close)
	r, ok := be.(compute.Resident)
	if !ok {
		t.Fatalf("%s is not a Resident backend", be.Name())
	}
	return r
}

// residentConfigs are small layers: head dims below and at the attention
// kernel's largest, grouped queries, with and without q, k, v bias, and
// lengths that cross its tiles of 32 queries and keys.
var residentConfigs = []struct {
	name string
	cfg  model.Config
	n    int
}{
	{"gqa-hd16", model.Config{HiddenSize: 64, IntermediateSize: 96, NumHeads: 4, NumKVHeads: 2, HeadDim: 16, RMSNormEps: 1e-5, Rope: model.Rope{Theta: 10000}}, 37},
	{"mha-hd128-bias", model.Config{HiddenSize: 256, IntermediateSize: 320, NumHeads: 2, NumKVHeads: 2, HeadDim: 128, RMSNormEps: 1e-6, QKVBias: true, Rope: model.Rope{Theta: 500000}}, 70},
	{"gqa-hd128", model.Config{HiddenSize: 512, IntermediateSize: 352, NumHeads: 4, NumKVHeads: 1, HeadDim: 128, RMSNormEps: 1e-5, Rope: model.Rope{Theta: 10000}}, 33},
}

// randomLayer returns weights of cfg's shape: projections scaled to keep
// activations of order one, norms around one.
func randomLayer(cfg *model.Config, rng *rand.Rand) LayerWeights {
	h, ffn, q, kv := cfg.HiddenSize, cfg.IntermediateSize, cfg.QDim(), cfg.KVDim()
	mat := func(out, in int) []float32 {
		w := make([]float32, out*in)
		s := 1 / math.Sqrt(float64(in))
		for i := range w {
			w[i] = float32(rng.NormFloat64() * s)
		}
		return w
	}
	vec := func(n int, mean, spread float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(mean + spread*rng.NormFloat64())
		}
		return v
	}
	w := LayerWeights{
		AttnNorm: vec(h, 1, 0.1), FFNNorm: vec(h, 1, 0.1),
		Q: mat(q, h), K: mat(kv, h), V: mat(kv, h), O: mat(h, q),
		Gate: mat(ffn, h), Up: mat(ffn, h), Down: mat(h, ffn),
	}
	if cfg.QKVBias {
		w.QBias, w.KBias, w.VBias = vec(q, 0, 0.1), vec(kv, 0, 0.1), vec(kv, 0, 0.1)
	}
	return w
}

func randomRows(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// closeTo fails t when ‖got-want‖/‖want‖ is above tol.
func closeTo(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, want %d", what, len(got), len(want))
		return
	}
	var d, w float64
	for i := range want {
		d += (float64(got[i]) - float64(want[i])) * (float64(got[i]) - float64(want[i]))
		w += float64(want[i]) * float64(want[i])
	}
	if e := math.Sqrt(d / w); !(e <= tol) {
		t.Errorf("%s: relative error %.3g, above %.1g", what, e, tol)
	}
}

// residentTol bounds the relative error of a device layer against the CPU
// one: both compute in float32, in different orders.
const residentTol = 2e-5

var residentRoles = []string{compute.InputQKV, compute.InputO, compute.InputGateUp, compute.InputDown}

// recordingHooks collects the CPU runtime's hook inputs by Resident role.
func recordingHooks(seen map[string][]float32) *Hooks {
	rec := func(role string) func([]float32, int) {
		return func(x []float32, _ int) { seen[role] = append(seen[role], x...) }
	}
	return &Hooks{QKVIn: rec(compute.InputQKV), OIn: rec(compute.InputO), MLPIn: rec(compute.InputGateUp), DownIn: rec(compute.InputDown)}
}

// TestResidentLayerWindows: a device Forward over calibration windows
// equals the CPU runtime's layer run window by window, outputs and hook
// inputs alike.
func TestResidentLayerWindows(t *testing.T) {
	r := residentBackend(t)
	for _, tc := range residentConfigs {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			rng := rand.New(rand.NewPCG(1, uint64(cfg.HiddenSize)))
			w := randomLayer(&cfg, rng)
			const seqs = 3
			h := cfg.HiddenSize
			x := randomRows(rng, seqs*tc.n*h)

			want := append([]float32(nil), x...)
			wantIn := map[string][]float32{}
			runner := NewLayerRunner(&cfg, tc.n)
			cpu := NewLayer(&cfg, w)
			for s := range seqs {
				if err := runner.Run(cpu, want[s*tc.n*h:(s+1)*tc.n*h], recordingHooks(wantIn)); err != nil {
					t.Fatal(err)
				}
			}

			ly := newResidentLayer(t, r, &cfg, w)
			xt, err := r.NewTensor(len(x))
			if err != nil {
				t.Fatal(err)
			}
			defer xt.Release()
			if err := xt.Upload(x); err != nil {
				t.Fatal(err)
			}
			gotIn := map[string][]float32{}
			hook := func(role string, in compute.Tensor, rows int) error {
				if rows != seqs*tc.n || in.Len()%rows != 0 {
					return fmt.Errorf("%s: %d rows in a tensor of %d", role, rows, in.Len())
				}
				v := make([]float32, in.Len())
				if err := in.Download(v); err != nil {
					return err
				}
				gotIn[role] = v
				return nil
			}
			if err := ly.Forward(xt, seqs, tc.n, 0, nil, 0, hook); err != nil {
				t.Fatal(err)
			}
			got := make([]float32, len(x))
			if err := xt.Download(got); err != nil {
				t.Fatal(err)
			}
			closeTo(t, "output", got, want, residentTol)
			for _, role := range residentRoles {
				closeTo(t, role+" input", gotIn[role], wantIn[role], residentTol)
			}
		})
	}
}

// TestResidentLayerCache: a device Forward with a KV cache (a prefill,
// then one token at a time, for several sequences at once) equals the CPU
// runtime's layer over its contiguous cache, and the cache holds the
// same keys and values.
func TestResidentLayerCache(t *testing.T) {
	r := residentBackend(t)
	for _, tc := range residentConfigs {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			rng := rand.New(rand.NewPCG(2, uint64(cfg.HiddenSize)))
			w := randomLayer(&cfg, rng)
			const seqs, steps = 2, 5
			h, hd, kvDim := cfg.HiddenSize, cfg.HeadDim, cfg.KVDim()
			prefill := tc.n
			maxLen := prefill + steps + 3

			cpu := NewLayer(&cfg, w)
			rope := newRopeTable(&cfg, maxLen)
			caches := make([]contiguousKV, seqs)
			for s := range caches {
				caches[s] = contiguousKV{cfg: &cfg, keys: make([]float32, kvDim*maxLen), values: make([]float32, kvDim*maxLen), maxLen: maxLen, rope: &rope}
			}
			var sc scratch

			ly := newResidentLayer(t, r, &cfg, w)
			kv, err := r.NewTensor(seqs * maxLen * 2 * kvDim)
			if err != nil {
				t.Fatal(err)
			}
			defer kv.Release()
			xt, err := r.NewTensor(seqs * prefill * h)
			if err != nil {
				t.Fatal(err)
			}
			defer xt.Release()

			start := 0
			for step, n := range append([]int{prefill}, 1, 1, 1, 1, 1) {
				x := randomRows(rng, seqs*n*h)
				want := append([]float32(nil), x...)
				for s := range seqs {
					caches[s].past = start
					cpu.forward(want[s*n*h:(s+1)*n*h], n, caches[s], sc.ensure(&cfg, n), nil)
				}
				if err := xt.Upload(x); err != nil {
					t.Fatal(err)
				}
				if err := ly.Forward(xt, seqs, n, start, kv, maxLen, nil); err != nil {
					t.Fatal(err)
				}
				got := make([]float32, len(x))
				if err := xt.Download(got); err != nil {
					t.Fatal(err)
				}
				closeTo(t, fmt.Sprintf("step %d output", step), got, want, residentTol)
				start += n
			}

			// The cache: [seqs × maxLen × 2 × kvDim] on the device,
			// [kvHead × maxLen × headDim] keys and values per sequence on the CPU.
			dev := make([]float32, seqs*maxLen*2*kvDim)
			if err := kv.Download(dev); err != nil {
				t.Fatal(err)
			}
			var gotK, wantK, gotV, wantV []float32
			for s := range seqs {
				for p := range start {
					for g := range cfg.NumKVHeads {
						at := ((s*maxLen+p)*2)*kvDim + g*hd
						gotK = append(gotK, dev[at:at+hd]...)
						gotV = append(gotV, dev[at+kvDim:at+kvDim+hd]...)
						cpuAt := (g*maxLen + p) * hd
						wantK = append(wantK, caches[s].keys[cpuAt:cpuAt+hd]...)
						wantV = append(wantV, caches[s].values[cpuAt:cpuAt+hd]...)
					}
				}
			}
			closeTo(t, "cached keys", gotK, wantK, residentTol)
			closeTo(t, "cached values", gotV, wantV, residentTol)
		})
	}
}

// TestResidentLayerRejects: shapes a device layer cannot take are
// refused when the layer is built or run, not by a failed launch.
func TestResidentLayerRejects(t *testing.T) {
	r := residentBackend(t)
	cfg := residentConfigs[0].cfg
	w := randomLayer(&cfg, rand.New(rand.NewPCG(3, 3)))
	ly := newResidentLayer(t, r, &cfg, w)
	x, err := r.NewTensor(2 * 4 * cfg.HiddenSize)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Release()
	for _, c := range []struct {
		name                   string
		seqs, n, start, maxLen int
		kv                     bool
	}{
		{"x too short", 3, 4, 0, 0, false},
		{"start without a cache", 2, 4, 1, 0, false},
		{"cache too short", 2, 4, 0, 100, true},
		{"past the cache", 2, 4, 5, 8, true},
	} {
		var kv compute.Tensor
		if c.kv {
			if kv, err = r.NewTensor(2 * 8 * 2 * cfg.KVDim()); err != nil {
				t.Fatal(err)
			}
			defer kv.Release()
		}
		if err := ly.Forward(x, c.seqs, c.n, c.start, kv, c.maxLen, nil); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
	bad := cfg
	bad.OBias = true
	if _, err := NewResidentWeights(r, &bad, &w); err == nil {
		t.Error("o_proj bias accepted")
	}
}

func TestResidentSupports(t *testing.T) {
	base := residentConfigs[0].cfg
	for _, c := range []struct {
		name string
		edit func(*model.Config)
		want bool
	}{
		{"llama", func(*model.Config) {}, true},
		{"q, k, v bias", func(c *model.Config) { c.QKVBias = true }, true},
		{"o bias", func(c *model.Config) { c.OBias = true }, false},
		{"mlp bias", func(c *model.Config) { c.MLPBias = true }, false},
		{"head dim 256", func(c *model.Config) { c.HeadDim = 256 }, false},
		{"head dim 18", func(c *model.Config) { c.HeadDim = 18 }, false},
	} {
		cfg := base
		c.edit(&cfg)
		if got := ResidentSupports(&cfg); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestNewProjectionFuses: the fused projections multiply as their parts
// do, and an unknown input is refused.
func TestNewProjectionFuses(t *testing.T) {
	cfg := residentConfigs[0].cfg
	rng := rand.New(rand.NewPCG(7, 7))
	w := randomLayer(&cfg, rng)
	h := cfg.HiddenSize
	x := randomRows(rng, h)
	qkv, err := NewProjection(compute.CPU, &cfg, &w, compute.InputQKV)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float32, cfg.QDim()+2*cfg.KVDim())
	qkv.MatMul(got, x, 1)
	k := make([]float32, cfg.KVDim())
	compute.CPU.MatMulT(k, x, w.K, 1, cfg.KVDim(), h)
	closeTo(t, "k rows of the fused q, k, v", got[cfg.QDim():cfg.QDim()+cfg.KVDim()], k, 1e-6)
	if _, err := NewProjection(compute.CPU, &cfg, &w, "mlp"); err == nil {
		t.Error("unknown input accepted")
	}
}
