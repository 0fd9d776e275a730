// Package report is the machine-readable result of the commands that
// measure (eval ppl, quantize, convert): one versioned JSON document
// (printed by --json, written as report.json by --report), and its
// Markdown table and PNG chart. docs/json.md documents the schema.
package report

import (
	"github.com/qtk-dev/qtk/eval"
	"github.com/qtk-dev/qtk/gate"
)

// SchemaVersion is the version of the JSON layout; it changes only when a
// field is removed or changes meaning (new fields may appear within a
// version).
const SchemaVersion = 1

// Run is the result of one command.
type Run struct {
	SchemaVersion int    `json:"schema_version"`
	Command       string `json:"command"`
	// Eval describes how perplexity was measured, when it was.
	Eval *EvalSettings `json:"eval,omitempty"`
	// Base names the variant the others are compared against.
	Base     string        `json:"base,omitempty"`
	Variants []Variant     `json:"variants"`
	Quantize *QuantizeInfo `json:"quantize,omitempty"`
	Convert  *ConvertInfo  `json:"convert,omitempty"`
	Gates    []gate.Check  `json:"gates,omitempty"`
	// Passed is false when any gate failed.
	Passed bool `json:"passed"`
}

// EvalSettings are the perplexity settings shared by every variant.
type EvalSettings struct {
	Data       string        `json:"data"`
	Protocol   eval.Protocol `json:"protocol"`
	Ctx        int           `json:"ctx"`
	MaxWindows int           `json:"max_windows,omitempty"`
}

// Variant is one model measured: the base or a candidate.
type Variant struct {
	Name string `json:"name"`
	Path string `json:"path"`
	// Format is the dtype of an unquantized checkpoint (fp16, bf16,
	// fp32), "FORMAT intB gG" for a quantized one (gptq int4 g128), or
	// "gguf TYPE".
	Format string `json:"format"`
	// SizeBytes counts every file of the checkpoint on disk.
	SizeBytes  int64 `json:"size_bytes"`
	Parameters int64 `json:"parameters"`
	// BitsPerWeight is the weight data in bits over Parameters.
	BitsPerWeight float64      `json:"bits_per_weight"`
	Perplexity    *eval.Result `json:"perplexity,omitempty"`
	// PPLDelta is perplexity relative to the base's, minus one (0.01 is
	// 1% worse); absent for the base.
	PPLDelta *float64 `json:"ppl_delta,omitempty"`
}

// QuantizeInfo describes a quantization run.
type QuantizeInfo struct {
	Method            string  `json:"method"`
	Format            string  `json:"format"`
	Bits              int     `json:"bits"`
	GroupSize         int     `json:"group_size"`
	Symmetric         bool    `json:"symmetric"`
	Layers            int     `json:"layers"`
	CalibrationTokens int     `json:"calibration_tokens"`
	Seconds           float64 `json:"seconds"`
	PeakRSSBytes      int64   `json:"peak_rss_bytes"`
	// Device is the backend that computed (--device), PeakDeviceBytes
	// its peak memory in use (0, left out, for the CPU).
	Device          string `json:"device"`
	PeakDeviceBytes uint64 `json:"peak_device_bytes,omitempty"`
}

// ConvertInfo describes a conversion to GGUF.
type ConvertInfo struct {
	Type        string         `json:"type"`
	Arch        string         `json:"arch"`
	Tensors     int            `json:"tensors"`
	TensorTypes map[string]int `json:"tensor_types"`
	Fallbacks   int            `json:"fallbacks"`
	Seconds     float64        `json:"seconds"`
}

// New starts the result of command; it passes until a gate fails.
func New(command string) *Run {
	return &Run{SchemaVersion: SchemaVersion, Command: command, Passed: true, Variants: []Variant{}}
}

// Compare sets every other variant's perplexity delta against the
// variant at index base, and when maxDelta >= 0 gates each on it.
func (r *Run) Compare(base int, maxDelta float64) {
	if base < 0 || base >= len(r.Variants) {
		return
	}
	r.Base = r.Variants[base].Name
	ref := r.Variants[base].Perplexity
	if ref == nil {
		return
	}
	for i := range r.Variants {
		v := &r.Variants[i]
		if i == base || v.Perplexity == nil {
			continue
		}
		delta := v.Perplexity.PPL/ref.PPL - 1
		v.PPLDelta = &delta
		if maxDelta >= 0 {
			r.AddGate(gate.MaxPPLDelta(v.Name, ref.PPL, v.Perplexity.PPL, maxDelta))
		}
	}
}

// AddGate records a check; a failed one fails the run.
func (r *Run) AddGate(c gate.Check) {
	r.Gates = append(r.Gates, c)
	r.Passed = r.Passed && c.Passed
}

// Err is the gate failure of the run, nil when every gate passed.
func (r *Run) Err() error { return gate.Failed(r.Gates) }
