package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestBenchJSON(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		batching string
		draft    bool
	}{
		{"continuous", nil, "continuous", false},
		{"static", []string{"--static"}, "static", false},
		{"speculative", []string{"--draft", tinyLlama, "--draft-tokens", "2"}, "continuous", true},
		{"restricted draft", []string{"--draft", tinyLlama, "--draft-vocab", "500", "--draft-vocab-text", benchText}, "continuous", true},
	}
	for _, tt := range tests {
		args := append([]string{"bench", tinyLlama, "--concurrency", "3", "--requests", "5", "--prompt-len", "8", "--gen-len", "6", "--page-size", "4", "--json"}, tt.args...)
		out, err := run(t, "", args...)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var got struct {
			Batching   string  `json:"batching"`
			Requests   int     `json:"requests"`
			Throughput float64 `json:"throughput_tokens_per_s"`
			Proposed   int     `json:"draft_tokens_proposed"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%s: %v in %s", tt.name, err, out)
		}
		if got.Batching != tt.batching || got.Requests != 5 || got.Throughput <= 0 || (got.Proposed > 0) != tt.draft {
			t.Errorf("%s: %s", tt.name, out)
		}
	}
}

func TestBenchTable(t *testing.T) {
	out, err := run(t, "", "bench", tinyLlama, "--concurrency", "2", "--requests", "2", "--prompt-len", "4", "--gen-len", "3", "--lengths", "fixed")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"throughput", "time to first token", "time per token", "2 (2 concurrent), 8 prompt + 6 generated"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
}

func TestBenchRejects(t *testing.T) {
	tests := [][]string{
		{"--concurrency", "0"},
		{"--lengths", "normal"},
		{"--kv-memory", "lots"},
		{"--page-size", "0"},
		{"--static", "--draft", tinyLlama},
		{"--draft", tinyLlama, "--draft-min-prob", "1.5"},
		{"--draft", tinyLlama, "--draft-vocab", "100"},
		{"--draft", tinyLlama, "--draft-vocab-text", benchText},
		{"--draft", tinyLlama, "--draft-vocab", "100", "--draft-vocab-text", "/no/such/file"},
	}
	for _, args := range tests {
		if _, err := run(t, "", append([]string{"bench", tinyLlama, "--requests", "1"}, args...)...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

func TestBenchGate(t *testing.T) {
	for _, tc := range []struct {
		min  string
		code int
	}{{"1", 0}, {"1e12", exitGate}} {
		out, err := run(t, "", "bench", tinyLlama, "--concurrency", "2", "--requests", "4", "--prompt-len", "8", "--gen-len", "4", "--min-tokens-per-sec", tc.min, "--json")
		code := 0
		if err != nil {
			code = exitCode(err)
		}
		if code != tc.code {
			t.Errorf("--min-tokens-per-sec %s: exit %d (%v), want %d", tc.min, code, err, tc.code)
		}
		if !strings.Contains(out, `"metric":"tokens_per_second"`) {
			t.Errorf("--min-tokens-per-sec %s: no gate in %s", tc.min, out)
		}
	}
}
