package convert

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/qtk-dev/qtk/formats/hf"
	"github.com/qtk-dev/qtk/formats/safetensors"
	"github.com/qtk-dev/qtk/internal/half"
	"github.com/qtk-dev/qtk/model"
)

// DefaultMaxShardBytes caps the weight bytes of one output file, as
// transformers' save_pretrained default does.
const DefaultMaxShardBytes = 5_000_000_000

// sideFiles are copied unchanged from the source checkpoint when present.
var sideFiles = []string{
	"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
	"generation_config.json", "chat_template.jinja", "chat_template.json",
}

// output is a quantized checkpoint being written into a hidden temporary
// directory beside its destination; Commit renames it into place, Abort
// removes it. Nothing appears at the destination before Commit.
type output struct {
	dest, tmp string
	force     bool
	w         *safetensors.Writer
}

// createOutput checks the destination and starts the temporary directory.
func createOutput(dest string, force bool, maxShardBytes int64) (*output, error) {
	if info, err := os.Stat(dest); err == nil {
		if !force {
			return nil, fmt.Errorf("%s: already exists (use --force to replace it)", dest)
		}
		if !info.IsDir() {
			return nil, fmt.Errorf("%s: exists and is not a directory", dest)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: cannot create the output: %w", dest, errors.Unwrap(err))
	}
	parent := filepath.Dir(filepath.Clean(dest))
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dest)+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("%s: cannot create the output: %w", dest, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	w, err := safetensors.NewWriter(tmp, safetensors.WriterOptions{MaxShardBytes: maxShardBytes})
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	return &output{dest: dest, tmp: tmp, force: force, w: w}, nil
}

// declare lists every tensor of the quantized checkpoint, in the order they
// will be written: layer by layer, then the embedding, final norm and head.
func (o *output) declare(ck *model.Checkpoint, qc hf.Config) error {
	specs := ck.Config.Tensors()
	ordered := append(layerSpecs(specs), globalSpecs(specs)...)
	for _, spec := range ordered {
		if isQuantized(spec) {
			planned, err := hf.Plan(qc, spec.Shape[0], spec.Shape[1])
			if err != nil {
				return fmt.Errorf("%s: %w", spec.Name, err)
			}
			for _, p := range planned {
				if err := o.w.Declare(moduleOf(spec)+"."+p.Suffix, p.DType, p.Shape); err != nil {
					return err
				}
			}
			continue
		}
		t, err := ck.Tensor(spec.Role, spec.Layer)
		if err != nil {
			return err
		}
		if err := o.w.Declare(spec.Name, t.DType, t.Shape); err != nil {
			return err
		}
	}
	return nil
}

func layerSpecs(specs []model.TensorSpec) []model.TensorSpec {
	var out []model.TensorSpec
	for _, s := range specs {
		if s.Layer >= 0 {
			out = append(out, s)
		}
	}
	return out
}

func globalSpecs(specs []model.TensorSpec) []model.TensorSpec {
	var out []model.TensorSpec
	for _, s := range specs {
		if s.Layer < 0 {
			out = append(out, s)
		}
	}
	return out
}

// isQuantized: the decoder layers' projections are quantized; the
// embedding, norms, biases and the head keep their dtype.
func isQuantized(spec model.TensorSpec) bool { return spec.Linear && spec.Layer >= 0 }

func moduleOf(spec model.TensorSpec) string {
	return spec.Name[:len(spec.Name)-len(".weight")]
}

// writePacked writes the packed tensors of one quantized linear.
func (o *output) writePacked(spec model.TensorSpec, packed []hf.Packed) error {
	for _, p := range packed {
		if err := o.w.WriteTensor(moduleOf(spec)+"."+p.Suffix, p.Data); err != nil {
			return err
		}
	}
	return nil
}

// writeCopy writes a tensor unchanged from the source checkpoint.
func (o *output) writeCopy(ck *model.Checkpoint, spec model.TensorSpec) error {
	t, err := ck.Tensor(spec.Role, spec.Layer)
	if err != nil {
		return err
	}
	return o.w.WriteTensor(spec.Name, t.Data)
}

// writeFloat writes float32 values (a norm that absorbed AWQ scales) in
// the dtype of the source tensor.
func (o *output) writeFloat(ck *model.Checkpoint, spec model.TensorSpec, values []float32) error {
	t, err := ck.Tensor(spec.Role, spec.Layer)
	if err != nil {
		return err
	}
	var data []byte
	switch t.DType {
	case safetensors.F16:
		data = make([]byte, 2*len(values))
		half.F32ToF16Slice(data, values)
	case safetensors.BF16:
		data = make([]byte, 2*len(values))
		half.F32ToBF16Slice(data, values)
	default:
		data = make([]byte, 4*len(values))
		for i, v := range values {
			putF32(data[4*i:], v)
		}
	}
	return o.w.WriteTensor(spec.Name, data)
}

// finish closes the weights and writes config.json with its
// quantization_config (and GPTQ's quantize_config.json), then copies the
// tokenizer and generation files.
func (o *output) finish(ck *model.Checkpoint, qc hf.Config) error {
	if err := o.w.Close(); err != nil {
		return err
	}
	raw, err := os.ReadFile(filepath.Join(ck.Dir, "config.json"))
	if err != nil {
		return err
	}
	var config map[string]any
	if err := json.Unmarshal(raw, &config); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(ck.Dir, "config.json"), err)
	}
	qconfig, err := qc.QuantizationConfig()
	if err != nil {
		return err
	}
	config["quantization_config"] = qconfig
	if err := writeJSON(filepath.Join(o.tmp, "config.json"), config); err != nil {
		return err
	}
	if qc.Format == hf.GPTQ {
		if err := writeJSON(filepath.Join(o.tmp, "quantize_config.json"), qconfig); err != nil {
			return err
		}
	}
	for _, name := range sideFiles {
		if err := copyFile(filepath.Join(ck.Dir, name), filepath.Join(o.tmp, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// commit moves the finished checkpoint to its destination, replacing an
// existing one only now that the new one is complete.
func (o *output) commit() error {
	if _, err := os.Stat(o.dest); err == nil {
		old := o.tmp + ".old"
		if err := os.Rename(o.dest, old); err != nil {
			return err
		}
		if err := os.Rename(o.tmp, o.dest); err != nil {
			os.Rename(old, o.dest)
			return err
		}
		return os.RemoveAll(old)
	}
	return os.Rename(o.tmp, o.dest)
}

// abort removes everything written so far.
func (o *output) abort() {
	o.w.Abort()
	os.RemoveAll(o.tmp)
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
