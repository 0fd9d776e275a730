package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qtk-dev/qtk/formats/safetensors"
)

// poisonWeight writes a bfloat16 NaN into the first value of a tensor of a
// model copy.
func poisonWeight(t *testing.T, dir, tensor string) {
	t.Helper()
	for _, name := range []string{"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"} {
		path := filepath.Join(dir, name)
		f, err := safetensors.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var begin int64 = -1
		for _, info := range f.Tensors() {
			if info.Name == tensor {
				begin = info.Begin
			}
		}
		data, _ := os.ReadFile(path)
		f.Close()
		if begin < 0 {
			continue
		}
		headerLen := int64(data[0]) | int64(data[1])<<8 | int64(data[2])<<16 | int64(data[3])<<24
		at := 8 + headerLen + begin
		data[at], data[at+1] = 0xc0, 0x7f
		os.WriteFile(path, data, 0o644)
		return
	}
	t.Fatalf("tensor %s not found", tensor)
}

func TestQuantizeBadInput(t *testing.T) {
	tmp := t.TempDir()
	file := func(name string, data []byte) string {
		p := filepath.Join(tmp, name)
		os.WriteFile(p, data, 0o644)
		return p
	}
	empty := file("empty.txt", nil)
	binary := file("binary.txt", []byte{0xff, 0xfe, 0xfd})
	short := file("short.txt", []byte("Too short for a window."))
	// A regular file where the output's parent directory should be: no
	// one, root included, can create the output there.
	notADir := file("not-a-dir", []byte("x"))

	tests := []struct {
		name string
		args []string
		nan  string
		want string
	}{
		{"empty calibration", []string{"quantize", "gptq", "MODEL", "--calib", empty, "-o", "OUT"}, "", "empty"},
		{"binary calibration", []string{"quantize", "awq", "MODEL", "--calib", binary, "-o", "OUT"}, "", "not UTF-8"},
		{"short calibration", []string{"quantize", "gptq", "MODEL", "--calib", short, "-o", "OUT"}, "", "shorter than one window"},
		{"group size", []string{"quantize", "rtn", "MODEL", "--group-size", "96", "-o", "OUT"}, "", "does not divide"},
		{"bits", []string{"quantize", "rtn", "MODEL", "--bits", "3", "-o", "OUT"}, "", "3-bit"},
		{"format", []string{"quantize", "rtn", "MODEL", "--format", "exl2", "-o", "OUT"}, "", "exl2"},
		{"NaN weight", []string{"quantize", "rtn", "MODEL", "-o", "OUT"}, "model.layers.1.mlp.up_proj.weight", "model.layers.1.mlp.up_proj.weight [768×256]: weight at row 0, column 0 is NaN"},
		{"gate without eval", []string{"quantize", "rtn", "MODEL", "-o", "OUT", "--max-ppl-delta", "1%"}, "", "needs --eval"},
		{"unwritable output", []string{"quantize", "rtn", "MODEL", "-o", filepath.Join(notADir, "out")}, "", "cannot create"},
		{"AWQ format from RTN with 8 bits", []string{"quantize", "rtn", "MODEL", "--bits", "8", "--format", "awq", "-o", "OUT"}, "", "4-bit only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyModel(t, func(string) {})
			if tt.nan != "" {
				poisonWeight(t, dir, tt.nan)
			}
			out := filepath.Join(t.TempDir(), "out")
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				args[i] = strings.NewReplacer("MODEL", dir, "OUT", out).Replace(a)
			}
			_, err := run(t, "", args...)
			if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v: want one line containing %q", err, tt.want)
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("output left behind: %v", err)
			}
			if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
				t.Fatalf("temporary files left behind: %v", entries)
			}
		})
	}
}

func TestQuantizeGate(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	data := filepath.Join("..", "..", "testdata", "text", "wiki.test.excerpt.raw")
	_, err := run(t, "", "quantize", "rtn", tinyLlama, "-o", out, "--group-size", "-1", "--eval", data, "--max-ppl-delta", "0.1%")
	if err == nil || exitCode(err) != exitGate {
		t.Fatalf("error %v: want the gate's exit code %d", err, exitGate)
	}
	if _, err := os.Stat(filepath.Join(out, "config.json")); err != nil {
		t.Fatalf("the quantized model should still be written: %v", err)
	}
}

// TestGPTQIntoAWQFormat: act-order is on by default, and the AWQ format
// stores no g_idx, so GPTQ switches to static groups and succeeds.
func TestGPTQIntoAWQFormat(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	calib := filepath.Join("..", "..", "testdata", "text", "wiki.test.excerpt.raw")
	if _, err := run(t, "", "quantize", "gptq", tinyLlama, "--calib", calib, "--samples", "2", "--seqlen", "64", "--format", "awq", "-o", out); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "", "eval", "ppl", out, "--data", calib, "--max-windows", "1"); err != nil {
		t.Fatal(err)
	}
}
