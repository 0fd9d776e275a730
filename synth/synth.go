package synth

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/qtk-dev/qtk/formats/safetensors"
	"github.com/qtk-dev/qtk/internal/half"
	"github.com/qtk-dev/qtk/model"
)

// initStd is the standard deviation of the random weights, the
// initializer_range of the LLaMA configs.
const initStd = 0.02

// chunk is the number of values generated from one seed: the weights do
// not depend on how many goroutines generate them.
const chunk = 1 << 20

// DefaultMaxShardBytes is the largest weight file, as transformers'
// save_pretrained default.
const DefaultMaxShardBytes = 5_000_000_000

// Options configures Write.
type Options struct {
	// Layers overrides the number of decoder layers; 0 keeps the shape's.
	Layers int
	// Seed makes the weights; the same seed gives the same bytes.
	Seed uint64
	// MaxShardBytes caps one weight file; 0 means DefaultMaxShardBytes.
	MaxShardBytes int64
	// Force replaces an existing dir.
	Force bool
}

// Write writes a checkpoint of shape s to dir: config.json,
// tokenizer.json, tokenizer_config.json and float16 safetensors (sharded
// beyond MaxShardBytes). Norm weights are 1, every other weight is drawn
// from N(0, initStd²). Everything is written beside dir first and renamed
// into place when complete.
func Write(dir string, s Shape, opts Options) error {
	layers := s.Layers
	if opts.Layers < 0 {
		return fmt.Errorf("synth: %d layers", opts.Layers)
	}
	if opts.Layers > 0 {
		layers = opts.Layers
	}
	if s.Vocab < tokenCount {
		return fmt.Errorf("synth: vocabulary of %d is smaller than the tokenizer's %d tokens", s.Vocab, tokenCount)
	}
	if _, err := os.Stat(dir); err == nil && !opts.Force {
		return fmt.Errorf("%s exists (use --force to replace it)", dir)
	}
	cfgData, err := configJSON(s, layers)
	if err != nil {
		return err
	}
	cfg, err := model.ParseConfig(cfgData)
	if err != nil {
		return fmt.Errorf("synth: the config it writes does not parse: %w", err)
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	tok, err := tokenizerJSON()
	if err != nil {
		return err
	}
	tokCfg, err := tokenizerConfigJSON()
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{"config.json": cfgData, "tokenizer.json": tok, "tokenizer_config.json": tokCfg} {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			return err
		}
	}
	if err := writeWeights(tmp, cfg.Tensors(), opts); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if opts.Force {
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	return os.Rename(tmp, dir)
}

// writeWeights writes every tensor of specs in float16.
func writeWeights(dir string, specs []model.TensorSpec, opts Options) error {
	maxShard := opts.MaxShardBytes
	if maxShard <= 0 {
		maxShard = DefaultMaxShardBytes
	}
	w, err := safetensors.NewWriter(dir, safetensors.WriterOptions{MaxShardBytes: maxShard})
	if err != nil {
		return err
	}
	defer w.Abort()
	for _, spec := range specs {
		if err := w.Declare(spec.Name, safetensors.F16, spec.Shape); err != nil {
			return err
		}
	}
	var buf []byte
	for i, spec := range specs {
		n := 1
		for _, d := range spec.Shape {
			n *= d
		}
		if cap(buf) < 2*n {
			buf = make([]byte, 2*n)
		}
		buf = buf[:2*n]
		if len(spec.Shape) == 1 {
			fill(buf, half.F32ToF16(1))
		} else {
			random(buf, opts.Seed, uint64(i))
		}
		if err := w.WriteTensor(spec.Name, buf); err != nil {
			return fmt.Errorf("%s: %w", spec.Name, err)
		}
	}
	return w.Close()
}

// fill sets every float16 of buf to v.
func fill(buf []byte, v uint16) {
	for i := 0; i < len(buf); i += 2 {
		binary.LittleEndian.PutUint16(buf[i:], v)
	}
}

// random fills buf with float16 draws from N(0, initStd²), chunk by chunk
// over the cores, each chunk from its own generator seeded by the seed,
// the tensor and the chunk's index.
func random(buf []byte, seed, tensor uint64) {
	n := len(buf) / 2
	chunks := (n + chunk - 1) / chunk
	var wg sync.WaitGroup
	work := make(chan int)
	for range min(runtime.GOMAXPROCS(0), chunks) {
		wg.Go(func() {
			for c := range work {
				rng := rand.New(rand.NewPCG(seed, tensor<<32|uint64(c)))
				for i := c * chunk; i < min(n, (c+1)*chunk); i++ {
					binary.LittleEndian.PutUint16(buf[2*i:], half.F32ToF16(float32(rng.NormFloat64()*initStd)))
				}
			}
		})
	}
	for c := range chunks {
		work <- c
	}
	close(work)
	wg.Wait()
}
