package report

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/qtk-dev/qtk/model"
)

// Describe measures a checkpoint directory: its format, size on disk and
// bits per weight. The name is the directory's base name.
func Describe(ck *model.Checkpoint) (Variant, error) {
	size, weights, err := dirBytes(ck.Dir)
	if err != nil {
		return Variant{}, err
	}
	format := dtypeName(ck.Config.DType)
	if q := ck.Quant; q != nil {
		format = fmt.Sprintf("%s int%d g%d", q.Format, q.Scheme.Bits, q.Scheme.GroupSize)
	}
	return newVariant(ck.Dir, format, size, weights, ck.Config.ParamCount()), nil
}

// DescribeFile measures a single-file model (GGUF) holding params
// parameters.
func DescribeFile(path, format string, params int64) (Variant, error) {
	st, err := os.Stat(path)
	if err != nil {
		return Variant{}, err
	}
	return newVariant(path, format, st.Size(), st.Size(), params), nil
}

func newVariant(path, format string, size, weightBytes, params int64) Variant {
	v := Variant{Name: filepath.Base(filepath.Clean(path)), Path: path, Format: format, SizeBytes: size, Parameters: params}
	if params > 0 {
		v.BitsPerWeight = 8 * float64(weightBytes) / float64(params)
	}
	return v
}

// dirBytes sums the sizes of the files in dir, and of its safetensors
// weight files. Symbolic links are followed (a Hugging Face cache snapshot
// is a directory of links).
func dirBytes(dir string) (all, weights int64, err error) {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return 0, 0, err
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := os.Stat(path)
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		all += info.Size()
		if strings.HasSuffix(path, ".safetensors") {
			weights += info.Size()
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", dir, err)
	}
	return all, weights, nil
}

// dtypeName shortens config.json's torch_dtype names.
func dtypeName(dtype string) string {
	switch dtype {
	case "float16":
		return "fp16"
	case "bfloat16":
		return "bf16"
	case "float32":
		return "fp32"
	}
	return dtype
}

// UniqueNames renames variants whose names collide to their paths, so each
// row of a report is told apart.
func UniqueNames(vs []Variant) {
	seen := map[string]int{}
	for _, v := range vs {
		seen[v.Name]++
	}
	for i := range vs {
		if seen[vs[i].Name] > 1 {
			vs[i].Name = vs[i].Path
		}
	}
}
