package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

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
