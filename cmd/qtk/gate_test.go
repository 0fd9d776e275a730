package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/qtk-dev/qtk/report"
)

var excerpt = filepath.Join("..", "..", "testdata", "text", "wiki.test.excerpt.raw")

// rtnTiny quantizes the bundled model once (per-channel RTN, so clearly
// worse than the original) for the tests that need a candidate.
var rtnTiny = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "qtk-gate-test")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "tiny-rtn")
	cmd := newRootCmd()
	cmd.SetOut(new(bytes.Buffer))
	cmd.SetErr(new(bytes.Buffer))
	cmd.SetArgs([]string{"quantize", "rtn", tinyLlama, "--group-size", "-1", "-o", out})
	return out, cmd.Execute()
})

func TestMain(m *testing.M) {
	code := m.Run()
	if dir, err := rtnTiny(); err == nil {
		os.RemoveAll(filepath.Dir(dir))
	}
	os.Exit(code)
}

func TestEvalPPLGate(t *testing.T) {
	cand, err := rtnTiny()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		models   []string
		maxDelta string
		exit     int    // 0: success
		want     string // in the error
	}{
		{"no gate", []string{tinyLlama, cand}, "", 0, ""},
		{"base against itself at 0%", []string{tinyLlama, tinyLlama}, "0%", 0, ""},
		{"generous fraction passes", []string{tinyLlama, cand}, "100", 0, ""},
		{"tight percentage fails", []string{tinyLlama, cand}, "0.01%", exitGate, "tiny-rtn: perplexity rose"},
		{"tight fraction fails", []string{tinyLlama, cand}, "0.0001", exitGate, "more than the allowed 0.01%"},
		{"gate without a candidate", []string{tinyLlama}, "1%", 1, "needs a base and at least one candidate"},
		{"malformed limit", []string{tinyLlama, cand}, "one%", 1, `--max-delta "one%"`},
		{"missing candidate", []string{tinyLlama, cand + "-nope"}, "1%", 1, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"eval", "ppl", "--data", excerpt, "--ctx", "128", "--max-windows", "2", "--json"}, tt.models...)
			if tt.maxDelta != "" {
				args = append(args, "--max-delta", tt.maxDelta)
			}
			out, err := run(t, "", args...)
			if tt.exit == 0 {
				if err != nil {
					t.Fatal(err)
				}
			} else if err == nil || exitCode(err) != tt.exit || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v (exit %d): want exit %d and %q", err, exitCode(err), tt.exit, tt.want)
			}
			if tt.exit == 1 {
				return
			}
			// The JSON result is printed whether or not the gate passed.
			var run report.Run
			if err := json.Unmarshal([]byte(out), &run); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if run.SchemaVersion != report.SchemaVersion || run.Command != "eval ppl" || len(run.Variants) != len(tt.models) ||
				run.Passed != (tt.exit == 0) || run.Variants[1].PPLDelta == nil || run.Variants[1].Perplexity == nil {
				t.Fatalf("result %s", out)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	cand, err := rtnTiny()
	if err != nil {
		t.Fatal(err)
	}
	_, gateErr := run(t, "", "eval", "ppl", tinyLlama, cand, "--data", excerpt, "--ctx", "128", "--max-windows", "1", "--max-delta", "0")
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"plain error", errors.New("x"), 1},
		{"interrupted", exitError{code: exitInterrupted, err: errors.New("x")}, 130},
		{"gate failed", gateErr, 3},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("%s: exit %d, want %d (%v)", tt.name, got, tt.want, tt.err)
		}
	}
}

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

// runStderr executes qtk and returns what it wrote to stderr.
func runStderr(t *testing.T, args ...string) string {
	t.Helper()
	cmd := newRootCmd()
	var stderr bytes.Buffer
	cmd.SetOut(new(bytes.Buffer))
	cmd.SetErr(&stderr)
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	return stderr.String()
}

func TestLogFlags(t *testing.T) {
	eval := []string{"eval", "ppl", tinyLlama, "--data", excerpt, "--ctx", "128", "--max-windows", "2"}
	tests := []struct {
		name  string
		flags []string
		check func(t *testing.T, stderr string)
	}{
		{"text logs and progress lines", nil, func(t *testing.T, stderr string) {
			for _, want := range []string{"level=INFO msg=\"loaded ", `msg=progress step="tiny-llama: perplexity windows" done=0 total=2`, "done=2 total=2"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			if strings.Contains(stderr, "\r") {
				t.Errorf("a bar redrawn on a pipe:\n%q", stderr)
			}
		}},
		{"json logs", []string{"--log-format", "json"}, func(t *testing.T, stderr string) {
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			for _, line := range lines {
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["level"] != "INFO" || rec["msg"] == nil {
					t.Fatalf("not a slog JSON record: %q", line)
				}
			}
			if !strings.Contains(stderr, `"msg":"progress","step":"tiny-llama: perplexity windows","done":2,"total":2`) {
				t.Errorf("no final progress record:\n%s", stderr)
			}
		}},
		{"quiet", []string{"--quiet"}, func(t *testing.T, stderr string) {
			if stderr != "" {
				t.Errorf("stderr %q", stderr)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, runStderr(t, append(eval, tt.flags...)...))
		})
	}
	cmd := newRootCmd()
	cmd.SetErr(new(bytes.Buffer))
	cmd.SetArgs(append(eval, "--log-format", "xml"))
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "text or json") {
		t.Fatalf("--log-format xml: %v", err)
	}
}
