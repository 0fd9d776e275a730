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
