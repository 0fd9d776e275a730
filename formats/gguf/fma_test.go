package gguf

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"
)

// TestNoFusedMultiplyAdd compiles the package for arm64, where Go fuses a
// multiplication and an addition into one instruction unless an explicit
// float32 conversion separates them, and fails if any fused instruction
// appears: llama.cpp's reference quantizers round every operation, so a
// fused one could change a quantized byte (see codec_helpers.go). The
// oracle tests run on amd64, which does not fuse by default.
func TestNoFusedMultiplyAdd(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the package")
	}
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		t.Skipf("no go command: %v", err)
	}
	cmd := exec.Command(goTool, "build", "-gcflags=-S", "-o", os.DevNull, ".")
	cmd.Env = append(os.Environ(), "GOARCH=arm64", "GOOS=linux", "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	fused := regexp.MustCompile(`(?m)^.*\((.*\.go:\d+)\)\s+F(N)?M(ADD|SUB)[SD]\b.*$`)
	for _, m := range fused.FindAllSubmatch(out, -1) {
		t.Errorf("fused multiply-add at %s", m[1])
	}
	if !regexp.MustCompile(`FMULS`).Match(out) {
		t.Fatal("the listing has no float32 multiplication at all: is it the right package?")
	}
}
