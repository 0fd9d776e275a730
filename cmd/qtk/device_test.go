package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/qtk-dev/qtk/compute"
)

// TestDeviceFlag: a malformed --device is refused by every command that
// computes, and cuda fails with a reason where no GPU can be used.
func TestDeviceFlag(t *testing.T) {
	text := filepath.Join("..", "..", "testdata", "text", "wiki.test.excerpt.raw")
	out := filepath.Join(t.TempDir(), "q")
	commands := [][]string{
		{"eval", "ppl", tinyLlama, "--data", text},
		{"generate", tinyLlama, "-p", "Hello", "-n", "1"},
		{"quantize", "rtn", tinyLlama, "-o", out},
	}
	gpu, err := compute.OpenCUDA(0)
	if gpu != nil {
		gpu.Close()
	}
	for _, args := range commands {
		t.Run(args[0]+"/malformed", func(t *testing.T) {
			_, err := run(t, "", append(args, "--device", "tpu")...)
			if err == nil || !strings.Contains(err.Error(), "want auto, cpu, cuda or cuda:N") {
				t.Errorf("error %v", err)
			}
		})
		t.Run(args[0]+"/cuda", func(t *testing.T) {
			if err == nil {
				t.Skip("a GPU is usable here")
			}
			_, got := run(t, "", append(args, "--device", "cuda")...)
			if got == nil || !strings.HasPrefix(got.Error(), "device cuda: ") {
				t.Errorf("error %v, want one saying why cuda cannot be used", got)
			}
		})
	}
}

func TestSynthCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m")
	if _, err := run(t, "", "synth", "--like", "tiny", "--layers", "1", "-o", dir); err != nil {
		t.Fatal(err)
	}
	stdout, err := run(t, "", "inspect", dir)
	if err != nil || !strings.Contains(stdout, "layers 1, hidden 64") {
		t.Errorf("inspect: %v\n%s", err, stdout)
	}
	if _, err := run(t, "", "synth", "--like", "tiny", "-o", dir); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("second write without --force: %v", err)
	}
	if _, err := run(t, "", "synth", "--like", "gpt-9", "-o", dir+"2"); err == nil || !strings.Contains(err.Error(), "no model shape") {
		t.Errorf("unknown shape: %v", err)
	}
}
