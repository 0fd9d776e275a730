package quant

import (
	"math"
	"strings"
	"testing"
)

func TestTensorValidate(t *testing.T) {
	// valid returns a well-formed 2×4 tensor with two groups per row.
	valid := func() *Tensor {
		return &Tensor{
			Out: 2, In: 4, Scheme: Scheme{Bits: 4, GroupSize: 2},
			Q:     []uint8{0, 1, 2, 15, 4, 5, 6, 7},
			Scale: []float32{1, 0.5, 0.25, 2},
			Zero:  []uint8{0, 8, 15, 3},
			GIdx:  []int32{0, 0, 1, 1},
		}
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("valid tensor: %v", err)
	}
	tests := []struct {
		name   string
		break_ func(*Tensor)
		want   string
	}{
		{"shape", func(q *Tensor) { q.Out = 0 }, "shape [0, 4] is not positive"},
		{"scheme", func(q *Tensor) { q.Scheme.GroupSize = 3 }, "group size 3 does not divide"},
		{"Q length", func(q *Tensor) { q.Q = q.Q[:7] }, "Q has 7 values, want 8"},
		{"Scale length", func(q *Tensor) { q.Scale = q.Scale[:3] }, "Scale has 3 values, want 4"},
		{"GIdx length", func(q *Tensor) { q.GIdx = nil }, "GIdx has 0 values, want 4"},
		{"Q range", func(q *Tensor) { q.Q[5] = 16 }, "Q[1, 1] = 16 is above 15"},
		{"GIdx range", func(q *Tensor) { q.GIdx[2] = 2 }, "GIdx[2] = 2 is not a group of 2"},
		{"negative GIdx", func(q *Tensor) { q.GIdx[0] = -1 }, "GIdx[0] = -1"},
		{"NaN scale", func(q *Tensor) { q.Scale[3] = float32(math.NaN()) }, "Scale[1, 1] is NaN"},
		{"zero range", func(q *Tensor) { q.Zero[1] = 16 }, "Zero[0, 1] = 16 is outside [0, 15]"},
		{"minimum zero", func(q *Tensor) { q.Scheme.MinZero = 1 }, "Zero[0, 0] = 0 is outside [1, 15]"},
		{"symmetric zero", func(q *Tensor) { q.Scheme.Symmetric = true }, "Zero[0, 0] = 0 is outside [8, 8]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := valid()
			tt.break_(q)
			err := q.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestActOrder(t *testing.T) {
	s := Scheme{Bits: 4, GroupSize: 2}
	q := &Tensor{Scheme: s, GIdx: s.DefaultGIdx(6)}
	if q.ActOrder() {
		t.Errorf("default GIdx %v reported as act-order", q.GIdx)
	}
	q.GIdx = []int32{1, 0, 0, 2, 1, 2}
	if !q.ActOrder() {
		t.Errorf("GIdx %v not reported as act-order", q.GIdx)
	}
	if got := (Scheme{Bits: 4, GroupSize: -1}).DefaultGIdx(3); got[0] != 0 || got[2] != 0 {
		t.Errorf("DefaultGIdx with one group per row = %v", got)
	}
}
