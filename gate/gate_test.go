package gate

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestMaxPPLDelta(t *testing.T) {
	tests := []struct {
		name            string
		base, candidate float64
		max             float64
		pass            bool
		delta           float64
	}{
		{"better than base", 10, 9.5, 0.01, true, -0.05},
		{"within the limit", 10, 10.05, 0.01, true, 0.005},
		{"exactly at the limit", 8, 8.08, 0.01, true, 0.01},
		{"over the limit", 10, 10.2, 0.01, false, 0.02},
		{"zero allowed, equal", 10, 10, 0, true, 0},
		{"zero allowed, worse", 10, 10.001, 0, false, 0.0001},
		{"NaN candidate fails", 10, math.NaN(), 0.5, false, math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := MaxPPLDelta("cand", tt.base, tt.candidate, tt.max)
			if c.Passed != tt.pass {
				t.Fatalf("passed %v, want %v (%+v)", c.Passed, tt.pass, c)
			}
			if !(math.Abs(c.Value-tt.delta) < 1e-9) && !(math.IsNaN(tt.delta) && math.IsNaN(c.Value)) {
				t.Fatalf("delta %g, want %g", c.Value, tt.delta)
			}
		})
	}
}

func TestMinTokensPerSecond(t *testing.T) {
	tests := []struct {
		measured, min float64
		pass          bool
	}{
		{120, 100, true},
		{100, 100, true},
		{99.9, 100, false},
		{0, 1, false},
	}
	for _, tt := range tests {
		if c := MinTokensPerSecond("v", tt.measured, tt.min); c.Passed != tt.pass {
			t.Errorf("%g tokens/s against %g: passed %v", tt.measured, tt.min, c.Passed)
		}
	}
}

func TestFailed(t *testing.T) {
	pass := MaxPPLDelta("a", 10, 10, 0.01)
	fail := MaxPPLDelta("b", 10, 11, 0.01)
	slow := MinTokensPerSecond("c", 5, 10)
	tests := []struct {
		name   string
		checks []Check
		failed []string // variants in the failure, nil for no error
		msg    []string
	}{
		{"no checks", nil, nil, nil},
		{"all pass", []Check{pass, pass}, nil, nil},
		{"one fails", []Check{pass, fail}, []string{"b"}, []string{"b: perplexity rose 10.00%, more than the allowed 1.00%"}},
		{"two fail", []Check{fail, pass, slow}, []string{"b", "c"}, []string{"b: perplexity", "; c: 5.0 tokens/s, below the required 10.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Failed(tt.checks)
			if tt.failed == nil {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				return
			}
			wrapped := fmt.Errorf("eval: %w", err)
			if !IsFailure(wrapped) {
				t.Fatalf("%v is not a gate failure", wrapped)
			}
			var f *Failure
			errors.As(err, &f)
			var got []string
			for _, c := range f.Failed {
				got = append(got, c.Variant)
			}
			if strings.Join(got, ",") != strings.Join(tt.failed, ",") {
				t.Fatalf("failed %v, want %v", got, tt.failed)
			}
			for _, m := range tt.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("message %q lacks %q", err, m)
				}
			}
		})
	}
	if IsFailure(errors.New("other")) {
		t.Fatal("a plain error is a gate failure")
	}
}

func TestParseFraction(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"1%", 0.01, true},
		{"0.5%", 0.005, true},
		{" 2 % ", 0.02, true},
		{"0.01", 0.01, true},
		{"0", 0, true},
		{"-1%", 0, false},
		{"abc", 0, false},
		{"%", 0, false},
		{"", 0, false},
		{"NaN", 0, false},
		{"1e9", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseFraction(tt.in)
		if (err == nil) != tt.ok || math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("ParseFraction(%q) = %g, %v", tt.in, got, err)
		}
	}
}

func FuzzParseFraction(f *testing.F) {
	for _, s := range []string{"1%", "0.01", "", "%", "-0", "1e-3%", "NaN%", "Inf"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseFraction(s)
		if err == nil && (v < 0 || math.IsNaN(v) || math.IsInf(v, 0)) {
			t.Fatalf("ParseFraction(%q) = %g", s, v)
		}
	})
}
