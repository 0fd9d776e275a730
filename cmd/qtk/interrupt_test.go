package main

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// TestMain lets a test run this binary as qtk itself: with QTK_AS_MAIN
// set, the arguments after "--" go to qtk's main.
func TestMain(m *testing.M) {
	if os.Getenv("QTK_AS_MAIN") != "" {
		for i, a := range os.Args {
			if a == "--" {
				os.Args = append([]string{"qtk"}, os.Args[i+1:]...)
				break
			}
		}
		main()
		os.Exit(0)
	}
	code := m.Run()
	// The RTN checkpoint the gate tests share.
	if dir, err := rtnTiny(); err == nil {
		os.RemoveAll(filepath.Dir(dir))
	}
	os.Exit(code)
}

// qtkProcess prepares qtk as a child process.
func qtkProcess(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), "QTK_AS_MAIN=1")
	return cmd
}

// TestInterruptThenResume sends SIGINT once the first layer is done: qtk
// finishes the layer in progress, exits 130 with no output in place,
// and --resume completes a checkpoint identical to an uninterrupted run's.
func TestInterruptThenResume(t *testing.T) {
	dir := t.TempDir()
	calib := filepath.Join("..", "..", "testdata", "text", "wiki.test.excerpt.raw")
	args := func(out string) []string {
		return []string{"quantize", "awq", tinyLlama, "--calib", calib, "--samples", "1", "--seqlen", "32", "--clip=false", "-o", out}
	}
	whole := filepath.Join(dir, "whole")
	if _, err := run(t, "", args(whole)...); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(dir, "out")
	cmd := qtkProcess(args(out)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log []string
	lines := bufio.NewScanner(stderr)
	for lines.Scan() {
		log = append(log, lines.Text())
		if strings.Contains(lines.Text(), "done=1 ") {
			cmd.Process.Signal(syscall.SIGINT)
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitInterrupted {
		t.Fatalf("exit %v, want %d; stderr:\n%s", err, exitInterrupted, strings.Join(log, "\n"))
	}
	last := log[len(log)-1]
	// The signal lands during the second layer, or on a busy machine just
	// before it starts.
	if !regexp.MustCompile(`interrupted after [12] of 4 layers; they are kept in .*--resume`).MatchString(last) {
		t.Fatalf("last line %q: want the layers kept and how to continue", last)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("output in place after an interruption: %v", err)
	}

	if _, err := run(t, "", append(args(out), "--resume")...); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"model.safetensors", "config.json"} {
		a, _ := os.ReadFile(filepath.Join(whole, name))
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil || string(a) != string(b) {
			t.Errorf("%s of the resumed run differs from the uninterrupted run's (%v)", name, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("left behind: %v", entries)
	}
}
