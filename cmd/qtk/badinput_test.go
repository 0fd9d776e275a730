package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// shardWithLayers is the bundled model's shard holding decoder weights.
const shardWithLayers = "model-00002-of-00003.safetensors"

var excerpt = filepath.Join("..", "..", "testdata", "text", "wiki.test.excerpt.raw")

// command is one qtk command as the bad-input tests run it: its arguments
// for a model and an output path, the file of the model directory it must
// read, and whether it writes OUT.
type command struct {
	name   string
	args   func(model, out string) []string
	reads  string
	writes bool
}

var commands = []command{
	{"inspect", func(m, _ string) []string { return []string{"inspect", m} }, shardWithLayers, false},
	{"tokenize", func(m, _ string) []string { return []string{"tokenize", m, "--text", "Hello"} }, "tokenizer.json", false},
	{"generate", func(m, _ string) []string { return []string{"generate", m, "-p", "Hello", "-n", "2"} }, shardWithLayers, false},
	{"eval ppl", func(m, _ string) []string {
		return []string{"eval", "ppl", m, "--data", excerpt, "--ctx", "64", "--max-windows", "1"}
	}, shardWithLayers, false},
	{"quantize rtn", func(m, o string) []string { return []string{"quantize", "rtn", m, "-o", o} }, shardWithLayers, true},
	{"quantize gptq", func(m, o string) []string {
		return []string{"quantize", "gptq", m, "--calib", excerpt, "--samples", "1", "--seqlen", "32", "-o", o}
	}, shardWithLayers, true},
	{"quantize awq", func(m, o string) []string {
		return []string{"quantize", "awq", m, "--calib", excerpt, "--samples", "1", "--seqlen", "32", "-o", o}
	}, shardWithLayers, true},
	{"convert", func(m, o string) []string { return []string{"convert", m, "--type", "q8_0", "-o", o} }, shardWithLayers, true},
}

// damage is one way a file can be bad; it damages path and returns the
// path the error must name.
type damage struct {
	name  string
	apply func(t *testing.T, path string) string
}

var damages = []damage{
	{"missing file", func(t *testing.T, p string) string { os.Remove(p); return p }},
	{"directory instead of file", func(t *testing.T, p string) string {
		os.Remove(p)
		os.Mkdir(p, 0o755)
		return p
	}},
	{"truncated file", func(t *testing.T, p string) string {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(p, data[:len(data)/2], 0o644)
		return p
	}},
	{"wrong format", func(t *testing.T, p string) string {
		os.WriteFile(p, []byte("GGUF? no: this is plain text, not the file qtk expects\n"), 0o644)
		return p
	}},
	{"permission denied", func(t *testing.T, p string) string {
		if os.Geteuid() == 0 {
			t.Skip("root reads files whatever their mode")
		}
		os.Chmod(p, 0)
		return p
	}},
}

// checkFailure fails unless err is one line naming path and nothing is
// left in outDir.
func checkFailure(t *testing.T, err error, path, outDir string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, path) {
		t.Errorf("error %q: want one line naming %s", msg, path)
	}
	if entries, _ := os.ReadDir(outDir); len(entries) != 0 {
		t.Errorf("left behind in the output directory: %v", entries)
	}
}

// TestEveryCommandRejectsBadFiles damages the file each command reads in
// every way, and the whole model directory.
func TestEveryCommandRejectsBadFiles(t *testing.T) {
	for _, c := range commands {
		for _, d := range damages {
			t.Run(c.name+"/"+d.name, func(t *testing.T) {
				dir := copyModel(t, func(string) {})
				named := d.apply(t, filepath.Join(dir, c.reads))
				outDir := t.TempDir()
				_, err := run(t, "", c.args(dir, filepath.Join(outDir, "out"))...)
				checkFailure(t, err, named, outDir)
			})
		}
		t.Run(c.name+"/file instead of model directory", func(t *testing.T) {
			outDir := t.TempDir()
			_, err := run(t, "", c.args(excerpt, filepath.Join(outDir, "out"))...)
			checkFailure(t, err, excerpt, outDir)
		})
		t.Run(c.name+"/missing model", func(t *testing.T) {
			missing := filepath.Join(t.TempDir(), "no-model")
			outDir := t.TempDir()
			_, err := run(t, "", c.args(missing, filepath.Join(outDir, "out"))...)
			checkFailure(t, err, missing, outDir)
		})
	}
}

// TestTextInputsRejected: the text files eval and quantize read (--data,
// --calib, --eval) are checked like model files.
func TestTextInputsRejected(t *testing.T) {
	binary := func(t *testing.T, p string) string {
		os.WriteFile(p, []byte{0xff, 0xfe, 0x00, 0x01}, 0o644)
		return p
	}
	textDamages := []damage{damages[0], damages[1], {"wrong format", binary}, damages[4]}
	uses := []struct {
		name string
		args func(text, out string) []string
	}{
		{"eval --data", func(x, _ string) []string { return []string{"eval", "ppl", tinyLlama, "--data", x} }},
		{"quantize --calib", func(x, o string) []string {
			return []string{"quantize", "gptq", tinyLlama, "--calib", x, "--samples", "1", "--seqlen", "32", "-o", o}
		}},
		{"quantize --eval", func(x, o string) []string { return []string{"quantize", "rtn", tinyLlama, "--eval", x, "-o", o} }},
	}
	for _, u := range uses {
		for _, d := range textDamages {
			t.Run(u.name+"/"+d.name, func(t *testing.T) {
				text := filepath.Join(t.TempDir(), "text.txt")
				data, _ := os.ReadFile(excerpt)
				os.WriteFile(text, data, 0o644)
				named := d.apply(t, text)
				outDir := t.TempDir()
				_, err := run(t, "", u.args(named, filepath.Join(outDir, "out"))...)
				checkFailure(t, err, named, outDir)
			})
		}
	}
}

// TestInspectRejectsBadGGUF damages a GGUF file in every way.
func TestInspectRejectsBadGGUF(t *testing.T) {
	good := filepath.Join(t.TempDir(), "tiny.gguf")
	if _, err := run(t, "", "convert", tinyLlama, "--type", "q8_0", "-o", good); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(good)
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "model.gguf")
			os.WriteFile(path, data, 0o644)
			named := d.apply(t, path)
			_, err := run(t, "", "inspect", named)
			checkFailure(t, err, named, t.TempDir())
		})
	}
}

// errDiskFull is what a full disk answers a write.
var errDiskFull = &os.PathError{Op: "write", Path: "stdout", Err: syscall.ENOSPC}

type fullWriter struct{}

func (fullWriter) Write([]byte) (int, error) { return 0, errDiskFull }

// TestFullDisk: results written to a full stdout, and outputs whose files
// cannot grow (a file size limit, as a full disk), fail with a one-line
// error and leave nothing behind.
func TestFullDisk(t *testing.T) {
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			outDir := t.TempDir()
			out := filepath.Join(outDir, "out")
			args := append(c.args(tinyLlama, out), "--json")
			if c.name == "tokenize" {
				args = args[:len(args)-1]
			}
			if c.writes {
				// RTN fails while writing the output files (each of its
				// saved layers fits in 1 MB); the others while saving their
				// first layer.
				limit := uint64(256 << 10)
				if c.name == "quantize rtn" {
					limit = 1 << 20
				}
				restore := limitFileSize(t, limit)
				_, err := runTo(t, io.Discard, args...)
				restore()
				checkFailure(t, err, outDir, outDir)
				if err != nil && !strings.Contains(err.Error(), "file too large") {
					t.Errorf("error %q does not give the cause", err)
				}
				return
			}
			_, err := runTo(t, fullWriter{}, args...)
			checkFailure(t, err, "stdout", outDir)
		})
	}
}

// limitFileSize makes writes past size bytes of any file fail, as on a
// full disk, until the returned function is called. Go ignores the
// SIGXFSZ this raises, so the write returns EFBIG.
func limitFileSize(t *testing.T, size uint64) func() {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Skip(err)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: size, Max: old.Max}); err != nil {
		t.Skip(err)
	}
	return func() { syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old) }
}

// runTo executes qtk with args, its stdout going to w.
func runTo(t *testing.T, w io.Writer, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var sink bytes.Buffer
	cmd.SetOut(w)
	cmd.SetErr(&sink)
	cmd.SetIn(strings.NewReader(""))
	cmd.SetArgs(args)
	return "", cmd.Execute()
}

// TestBadOutputPaths: outputs that cannot be created fail with a one-line
// error naming them and leave nothing behind.
func TestBadOutputPaths(t *testing.T) {
	writers := []struct {
		name string
		args func(out string) []string
	}{
		{"quantize", func(o string) []string { return []string{"quantize", "rtn", tinyLlama, "-o", o, "--force"} }},
		{"convert", func(o string) []string { return []string{"convert", tinyLlama, "--type", "f16", "-o", o, "--force"} }},
	}
	places := []struct {
		name string
		// make prepares dir and returns the output path to use.
		make func(t *testing.T, dir string) string
	}{
		{"missing parent directory", func(t *testing.T, dir string) string { return filepath.Join(dir, "no", "out") }},
		{"parent is a file", func(t *testing.T, dir string) string {
			os.WriteFile(filepath.Join(dir, "file"), []byte("x"), 0o644)
			return filepath.Join(dir, "file", "out")
		}},
		{"read-only parent directory", func(t *testing.T, dir string) string {
			if os.Geteuid() == 0 {
				t.Skip("root writes whatever the mode")
			}
			ro := filepath.Join(dir, "ro")
			os.Mkdir(ro, 0o555)
			t.Cleanup(func() { os.Chmod(ro, 0o755) })
			return filepath.Join(ro, "out")
		}},
	}
	for _, w := range writers {
		for _, p := range places {
			t.Run(w.name+"/"+p.name, func(t *testing.T) {
				dir := t.TempDir()
				out := p.make(t, dir)
				before, _ := os.ReadDir(dir)
				_, err := run(t, "", w.args(out)...)
				if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), out) {
					t.Fatalf("error %v: want one line naming %s", err, out)
				}
				if after, _ := os.ReadDir(dir); len(after) != len(before) {
					t.Errorf("left behind: %v", after)
				}
				if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
					t.Errorf("left behind beside the output: %v", entries)
				}
			})
		}
	}
	t.Run("convert onto a directory", func(t *testing.T) {
		dir := t.TempDir()
		out := filepath.Join(dir, "out.gguf")
		os.Mkdir(out, 0o755)
		_, err := run(t, "", "convert", tinyLlama, "--type", "f16", "-o", out, "--force")
		if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), out) {
			t.Fatalf("error %v: want one line naming %s", err, out)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("left behind: %v", entries)
		}
	})
}
