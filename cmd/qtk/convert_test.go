package main

import (
	"bytes"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

func TestConvertGGUFAndInspect(t *testing.T) {
	tiny := filepath.Join("..", "..", "testdata", "models", "tiny-llama")
	out := filepath.Join(t.TempDir(), "tiny.gguf")
	opts := convertOptions{to: "gguf", typ: "q8_0", out: out}
	if err := runConvert(tiny, opts, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := runConvert(tiny, opts, io.Discard); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("existing output: %v", err)
	}
	opts.force = true
	if err := runConvert(tiny, opts, io.Discard); err != nil {
		t.Errorf("--force: %v", err)
	}
	if err := runConvert(tiny, convertOptions{to: "gguf", typ: "q2_k", out: out + "2"}, io.Discard); err == nil || !strings.Contains(err.Error(), "unsupported") {
		t.Errorf("--type q2_k: %v", err)
	}
	if err := runConvert(tiny, convertOptions{to: "onnx", typ: "f16", out: out + "3"}, io.Discard); err == nil {
		t.Error("--to onnx accepted")
	}

	var text bytes.Buffer
	if err := runInspect(out, false, defaultSizes, &text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"general.architecture", "tokenizer.ggml.tokens", "len 4096", "blk.0.attn_q.weight", "Q8_0"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("inspect output lacks %q", want)
		}
	}
	var js bytes.Buffer
	if err := runInspect(out, true, defaultSizes, &js); err != nil {
		t.Fatal(err)
	}
	var rep ggufReport
	if err := json.Unmarshal(js.Bytes(), &rep); err != nil || len(rep.Tensors) != 39 || rep.Version != 3 {
		t.Errorf("json: %v, %d tensors, version %d", err, len(rep.Tensors), rep.Version)
	}
	// The file is sized like the checkpoint it came from: 5,114,112
	// parameters (its index's total_parameters), and its own q8_0 tensor
	// data among the formats.
	if rep.Arch != "llama" || rep.Params != 5_114_112 || rep.Sizes == nil {
		t.Fatalf("json: architecture %q, %d parameters, sizes %v", rep.Arch, rep.Params, rep.Sizes)
	}
	for _, f := range rep.Sizes.Formats {
		if f.Format == "gguf q8_0" && f.Bytes != rep.Bytes {
			t.Errorf("q8_0 sized at %d bytes, the file holds %d", f.Bytes, rep.Bytes)
		}
	}
}
