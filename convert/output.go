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

// tensorData is one tensor as it is written.
type tensorData struct {
	name  string
	dtype safetensors.DType
	shape []int
	data  []byte
}

// plannedTensor is one tensor of the quantized checkpoint; layer is -1 for
// the embedding, final norm and head, copied from the source.
type plannedTensor struct {
	name  string
	dtype safetensors.DType
	shape []int
	layer int
	spec  model.TensorSpec
}

// planTensors lists every tensor of the quantized checkpoint in the order
// they are written: layer by layer, then the embedding, final norm and head.
func planTensors(ck *model.Checkpoint, qc hf.Config) ([]plannedTensor, error) {
	specs := ck.Config.Tensors()
	var planned []plannedTensor
	for _, spec := range append(layerSpecs(specs), globalSpecs(specs)...) {
		if isQuantized(spec) {
			packed, err := hf.Plan(qc, spec.Shape[0], spec.Shape[1])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", spec.Name, err)
			}
			for _, p := range packed {
				planned = append(planned, plannedTensor{moduleOf(spec) + "." + p.Suffix, p.DType, p.Shape, spec.Layer, spec})
			}
			continue
		}
		t, err := ck.Tensor(spec.Role, spec.Layer)
		if err != nil {
			return nil, err
		}
		planned = append(planned, plannedTensor{spec.Name, t.DType, t.Shape, spec.Layer, spec})
	}
	return planned, nil
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

// packedData is the stored form of a quantized linear.
func packedData(spec model.TensorSpec, packed []hf.Packed) []tensorData {
	var out []tensorData
	for _, p := range packed {
		out = append(out, tensorData{moduleOf(spec) + "." + p.Suffix, p.DType, p.Shape, p.Data})
	}
	return out
}

// copiedData is a tensor unchanged from the source checkpoint.
func copiedData(ck *model.Checkpoint, spec model.TensorSpec) (tensorData, error) {
	t, err := ck.Tensor(spec.Role, spec.Layer)
	if err != nil {
		return tensorData{}, err
	}
	return tensorData{spec.Name, t.DType, t.Shape, t.Data}, nil
}

// floatData stores float32 values (a norm that absorbed AWQ scales) in
// the dtype of the source tensor.
func floatData(ck *model.Checkpoint, spec model.TensorSpec, values []float32) (tensorData, error) {
	t, err := ck.Tensor(spec.Role, spec.Layer)
	if err != nil {
		return tensorData{}, err
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
	return tensorData{spec.Name, t.DType, t.Shape, data}, nil
}

// writeWeights writes the checkpoint's safetensors files into p.dir: the
// decoder layers from their saved files, the rest from the source.
func writeWeights(ck *model.Checkpoint, qc hf.Config, p *partial, maxShardBytes int64) error {
	planned, err := planTensors(ck, qc)
	if err != nil {
		return err
	}
	w, err := safetensors.NewWriter(p.dir, safetensors.WriterOptions{MaxShardBytes: maxShardBytes})
	if err != nil {
		return err
	}
	defer w.Abort()
	for _, t := range planned {
		if err := w.Declare(t.name, t.dtype, t.shape); err != nil {
			return err
		}
	}
	var layer *safetensors.File // the saved file of layer open
	open := -1
	defer func() {
		if layer != nil {
			layer.Close()
		}
	}()
	for _, t := range planned {
		if t.layer < 0 {
			src, err := copiedData(ck, t.spec)
			if err != nil {
				return err
			}
			if err := w.WriteTensor(t.name, src.data); err != nil {
				return err
			}
			continue
		}
		path := p.layerFile(t.layer)
		if open != t.layer {
			if layer != nil {
				layer.Close()
			}
			if layer, err = safetensors.Open(path); err != nil {
				return err
			}
			open = t.layer
		}
		saved, ok := layer.Tensor(t.name)
		if !ok {
			return fmt.Errorf("%s: no tensor %s", path, t.name)
		}
		if err := w.WriteTensor(t.name, saved.Data); err != nil {
			return err
		}
	}
	return w.Close()
}

// writeSideFiles writes config.json with its quantization_config (and
// GPTQ's quantize_config.json) into dir, then copies the tokenizer and
// generation files.
func writeSideFiles(ck *model.Checkpoint, qc hf.Config, dir string) error {
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
	if err := writeJSON(filepath.Join(dir, "config.json"), config); err != nil {
		return err
	}
	if qc.Format == hf.GPTQ {
		if err := writeJSON(filepath.Join(dir, "quantize_config.json"), qconfig); err != nil {
			return err
		}
	}
	for _, name := range sideFiles {
		if err := copyFile(filepath.Join(ck.Dir, name), filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// commit moves the finished checkpoint to dest, replacing an existing one
// only now that the new one is complete.
func (p *partial) commit(dest string) error {
	if _, err := os.Stat(dest); err == nil {
		old := p.dir + ".old"
		if err := os.Rename(dest, old); err != nil {
			return err
		}
		if err := os.Rename(p.dir, dest); err != nil {
			os.Rename(old, dest)
			return err
		}
		return os.RemoveAll(old)
	}
	return os.Rename(p.dir, dest)
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
