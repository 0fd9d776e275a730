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
	if err := runInspect(out, false, &text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"general.architecture", "tokenizer.ggml.tokens", "len 4096", "blk.0.attn_q.weight", "Q8_0"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("inspect output lacks %q", want)
		}
	}
	var js bytes.Buffer
	if err := runInspect(out, true, &js); err != nil {
		t.Fatal(err)
	}
	var rep ggufReport
	if err := json.Unmarshal(js.Bytes(), &rep); err != nil || len(rep.Tensors) != 39 || rep.Version != 3 {
		t.Errorf("json: %v, %d tensors, version %d", err, len(rep.Tensors), rep.Version)
	}
}
