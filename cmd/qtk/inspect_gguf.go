package main

import (
	"encoding/json"
	"fmt"
	"github.com/qtk-dev/qtk/report"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/qtk-dev/qtk/formats/gguf"
	"github.com/qtk-dev/qtk/model"
)

// isGGUF reports whether path names a GGUF file: a .gguf name, or a regular
// file starting with the magic "GGUF".
func isGGUF(path string) bool {
	if strings.HasSuffix(strings.ToLower(path), ".gguf") {
		return true
	}
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() {
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	magic := make([]byte, 4)
	_, err = io.ReadFull(f, magic)
	return err == nil && string(magic) == gguf.Magic
}

type ggufKVRow struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Len   int    `json:"len,omitempty"`
	Value any    `json:"value"`
}

type ggufTensorRow struct {
	Name  string  `json:"name"`
	Type  string  `json:"type"`
	Shape []int64 `json:"shape"`
	Bytes int64   `json:"bytes"`
}

type ggufReport struct {
	SchemaVersion int             `json:"schema_version"`
	Command       string          `json:"command"`
	Path          string          `json:"path"`
	Version       uint32          `json:"version"`
	Arch          string          `json:"architecture,omitempty"`
	Params        int64           `json:"parameters,omitempty"`
	FileType      int64           `json:"file_type,omitempty"`
	Sizes         *sizesReport    `json:"sizes,omitempty"`
	Metadata      []ggufKVRow     `json:"metadata"`
	Tensors       []ggufTensorRow `json:"tensors"`
	Bytes         int64           `json:"tensor_bytes"`
}

const ggufArrayPreview = 8

func runInspectGGUF(path string, jsonOut bool, sizes sizeOptions, stdout io.Writer) error {
	f, err := gguf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	rep := ggufReport{Path: path, Version: f.Version()}
	for _, kv := range f.Metadata() {
		row := ggufKVRow{Key: kv.Key, Type: kv.Value.Type().String()}
		if kv.Value.Type() == gguf.ValueArray {
			row.Type = "[]" + kv.Value.ElemType().String()
			row.Len = kv.Value.Len()
			row.Value = previewArray(kv.Value)
		} else {
			row.Value = kv.Value.Any()
		}
		rep.Metadata = append(rep.Metadata, row)
	}
	for _, t := range f.Tensors() {
		rep.Tensors = append(rep.Tensors, ggufTensorRow{Name: t.Name, Type: t.Type.String(), Shape: t.Shape(), Bytes: t.Size})
		rep.Bytes += t.Size
	}
	// A file of an architecture qtk cannot size is still listed.
	cfg, cfgErr := model.ConfigFromGGUF(f)
	if cfgErr == nil {
		rep.Arch, rep.Params = cfg.ModelType, cfg.ParamCount()
		rep.FileType, _ = f.Int("general.file_type")
		if rep.Sizes, err = newSizesReport(cfg, sizes); err != nil {
			return err
		}
	}
	if jsonOut {
		rep.SchemaVersion, rep.Command = report.SchemaVersion, "inspect"
		return json.NewEncoder(stdout).Encode(rep)
	}
	fmt.Fprintf(stdout, "%s: GGUF v%d, %d metadata keys, %d tensors, %.1f MB of tensor data\n", path, rep.Version, len(rep.Metadata), len(rep.Tensors), float64(rep.Bytes)/1e6)
	if rep.Sizes != nil {
		fmt.Fprintf(stdout, "  %s, %.2fM parameters, file type %d\n\n", rep.Arch, float64(rep.Params)/1e6, rep.FileType)
		if err := rep.Sizes.print(stdout); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "  not sized: %v\n", cfgErr)
	}
	fmt.Fprintln(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tTYPE\tVALUE")
	for _, kv := range rep.Metadata {
		val := fmt.Sprint(kv.Value)
		if kv.Len > 0 || strings.HasPrefix(kv.Type, "[]") {
			val = fmt.Sprintf("len %d: %v", kv.Len, kv.Value)
		}
		if len(val) > 120 {
			val = val[:117] + "..."
		}
		val = strings.ReplaceAll(val, "\n", `\n`)
		fmt.Fprintf(tw, "%s\t%s\t%s\n", kv.Key, kv.Type, val)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "TENSOR\tTYPE\tSHAPE\tBYTES")
	for _, t := range rep.Tensors {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%d\n", t.Name, t.Type, t.Shape, t.Bytes)
	}
	return tw.Flush()
}

// previewArray returns the first few elements of an array value.
func previewArray(v gguf.Value) any {
	switch xs := v.Any().(type) {
	case []string:
		return xs[:min(len(xs), ggufArrayPreview)]
	case []int32:
		return xs[:min(len(xs), ggufArrayPreview)]
	case []uint32:
		return xs[:min(len(xs), ggufArrayPreview)]
	case []float32:
		return xs[:min(len(xs), ggufArrayPreview)]
	case []gguf.Value:
		return fmt.Sprintf("%d nested arrays", len(xs))
	default:
		s := v.String()
		return s
	}
}
