package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qtk-dev/qtk/report"
)

func TestReportDir(t *testing.T) {
	cand, err := rtnTiny()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "report")
	_, err = run(t, "", "eval", "ppl", tinyLlama, cand, "--data", excerpt, "--ctx", "128", "--max-windows", "1", "--max-delta", "0", "--report", dir)
	if exitCode(err) != exitGate {
		t.Fatalf("error %v: want a gate failure", err)
	}
	md, err := os.ReadFile(filepath.Join(dir, report.MarkdownFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| tiny-llama (base) | bf16 |", "| tiny-rtn | gptq int4 g-1 |", "❌ FAIL tiny-rtn"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	for _, f := range []string{report.JSONFile, report.ChartFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

func TestQuantizeJSON(t *testing.T) {
	// Two 512-token windows of the excerpt keep the evaluation short.
	text, err := os.ReadFile(excerpt)
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "eval.txt")
	os.WriteFile(data, text[:bytes.LastIndexByte(text[:5000], '\n')+1], 0o644)
	out := filepath.Join(t.TempDir(), "tiny-rtn")
	stdout, err := run(t, "", "quantize", "rtn", tinyLlama, "-o", out, "--eval", data, "--max-ppl-delta", "100%", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var run report.Run
	if err := json.Unmarshal([]byte(stdout), &run); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	q := run.Quantize
	if run.Command != "quantize" || q == nil || q.Method != "rtn" || q.Bits != 4 || q.GroupSize != 128 || len(run.Variants) != 2 ||
		run.Base != "tiny-llama" || run.Variants[1].Name != "tiny-rtn" || run.Variants[1].BitsPerWeight >= run.Variants[0].BitsPerWeight ||
		len(run.Gates) != 1 || !run.Passed || run.Eval == nil || run.Eval.Ctx != 512 || run.Variants[1].Perplexity.Windows < 1 {
		t.Fatalf("result %s", stdout)
	}
}

func TestConvertJSON(t *testing.T) {
	out := filepath.Join(t.TempDir(), "tiny-q8_0.gguf")
	stdout, err := run(t, "", "convert", tinyLlama, "--to", "gguf", "--type", "q8_0", "-o", out, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var run report.Run
	if err := json.Unmarshal([]byte(stdout), &run); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	info, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	c := run.Convert
	if run.SchemaVersion != report.SchemaVersion || run.Command != "convert" || c == nil || c.Type != "q8_0" || c.Tensors != 39 ||
		len(run.Variants) != 1 || run.Variants[0].Format != "gguf q8_0" || run.Variants[0].SizeBytes != info.Size() {
		t.Fatalf("result %s", stdout)
	}
	// Q8_0 stores 34 bytes per 32 weights (8.5 bits); norms stay F32.
	if bpw := run.Variants[0].BitsPerWeight; bpw < 8.5 || bpw > 10 {
		t.Fatalf("%.2f bits per weight for q8_0", bpw)
	}
}
