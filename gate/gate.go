// Package gate holds the quality and speed checks a release pipeline fails
// on: a candidate's perplexity may rise at most so much over its base, a
// throughput must reach a floor. Commands collect Checks and return
// Failed(checks); the command line turns a *Failure into ExitCode.
package gate

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ExitCode is the process exit status of a failed gate.
const ExitCode = 3

// Check is the outcome of one gate on one variant.
type Check struct {
	Variant string `json:"variant"`
	// Metric is "ppl_delta" (relative rise over the base) or
	// "tokens_per_second".
	Metric string  `json:"metric"`
	Value  float64 `json:"value"`
	// Limit is the largest allowed value for a ceiling, the smallest for
	// a floor.
	Limit  float64 `json:"limit"`
	Passed bool    `json:"passed"`
}

func (c Check) String() string {
	switch c.Metric {
	case MetricPPLDelta:
		return fmt.Sprintf("%s: perplexity rose %.2f%%, more than the allowed %.2f%%", c.Variant, 100*c.Value, 100*c.Limit)
	case MetricTokensPerSecond:
		return fmt.Sprintf("%s: %.1f tokens/s, below the required %.1f", c.Variant, c.Value, c.Limit)
	}
	return fmt.Sprintf("%s: %s %g against limit %g", c.Variant, c.Metric, c.Value, c.Limit)
}

// Metrics gated on.
const (
	MetricPPLDelta        = "ppl_delta"
	MetricTokensPerSecond = "tokens_per_second"
)

// MaxPPLDelta passes when candidate perplexity is at most (1+maxDelta)
// times base perplexity; a NaN perplexity fails.
func MaxPPLDelta(variant string, base, candidate, maxDelta float64) Check {
	delta := candidate/base - 1
	// tolerance keeps a rise of exactly the limit from failing on rounding.
	const tolerance = 1e-12
	return Check{Variant: variant, Metric: MetricPPLDelta, Value: delta, Limit: maxDelta, Passed: delta <= maxDelta+tolerance}
}

// MinTokensPerSecond passes when the measured throughput reaches min.
func MinTokensPerSecond(variant string, measured, min float64) Check {
	return Check{Variant: variant, Metric: MetricTokensPerSecond, Value: measured, Limit: min, Passed: measured >= min}
}

// Failure lists the checks that did not pass.
type Failure struct {
	Failed []Check
}

func (f *Failure) Error() string {
	msgs := make([]string, len(f.Failed))
	for i, c := range f.Failed {
		msgs[i] = c.String()
	}
	return "gate failed: " + strings.Join(msgs, "; ")
}

// Failed returns a *Failure holding the checks that did not pass, or nil
// when all passed.
func Failed(checks []Check) error {
	var failed []Check
	for _, c := range checks {
		if !c.Passed {
			failed = append(failed, c)
		}
	}
	if failed == nil {
		return nil
	}
	return &Failure{Failed: failed}
}

// IsFailure reports whether err is (or wraps) a gate failure.
func IsFailure(err error) bool {
	var f *Failure
	return errors.As(err, &f)
}

// ParseFraction reads a relative limit written as a percentage ("1%",
// "0.5%") or a fraction ("0.01") and returns the fraction.
func ParseFraction(s string) (float64, error) {
	num, percent := strings.CutSuffix(strings.TrimSpace(s), "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || v < 0 || v != v || v > 1e6 {
		return 0, fmt.Errorf("%q: want a non-negative percentage or fraction, like 1%% or 0.01", s)
	}
	if percent {
		v /= 100
	}
	return v, nil
}
