package compute

import (
	"strings"
	"testing"

	"github.com/qtk-dev/qtk/quant"
)

// TestSweepJobCheck: a job whose slices do not fit its shape, or whose
// groups fall outside its parameters, is refused before any device work.
func TestSweepJobCheck(t *testing.T) {
	const out, in = 3, 8
	valid := func() SweepJob {
		return SweepJob{
			Out: out, In: in,
			W: make([]float32, out*in), U: make([]float32, in*in), Q: make([]uint8, out*in),
			BlockSize: 4, Scheme: quant.Scheme{Bits: 4, GroupSize: 4},
			DynamicGroups: true, GroupSize: 4,
			Group: []int32{0, 0, 0, 0, 1, 1, 1, 1},
			Scale: make([]float32, out*2), Zero: make([]uint8, out*2),
		}
	}
	if j := valid(); j.check() != nil {
		t.Fatalf("valid job refused: %v", j.check())
	}
	if j := valid(); func() error { j.U, j.Factor = nil, orderOnly(in); return j.check() }() != nil {
		t.Fatal("valid job with a device factor refused")
	}
	for _, tc := range []struct {
		name  string
		spoil func(*SweepJob)
		want  string
	}{
		{"empty", func(j *SweepJob) { j.Out = 0 }, "sweep of [0×8]"},
		{"short weights", func(j *SweepJob) { j.W = j.W[1:] }, "weights"},
		{"short factor", func(j *SweepJob) { j.U = j.U[1:] }, "factor"},
		{"no factor", func(j *SweepJob) { j.U = nil }, "0 factor entries"},
		{"two factors", func(j *SweepJob) { j.Factor = orderOnly(in) }, "device factor"},
		{"device factor of another order", func(j *SweepJob) { j.U, j.Factor = nil, orderOnly(in+1) }, "device factor of order 9"},
		{"short codes", func(j *SweepJob) { j.Q = j.Q[1:] }, "codes"},
		{"zero points", func(j *SweepJob) { j.Zero = j.Zero[1:] }, "zero points"},
		{"ragged scales", func(j *SweepJob) { j.Scale, j.Zero = j.Scale[1:], j.Zero[1:] }, "scales"},
		{"no block", func(j *SweepJob) { j.BlockSize = 0 }, "blocks of 0"},
		{"wide block", func(j *SweepJob) { j.BlockSize = SweepMaxBlock + 1 }, "blocks of"},
		{"bits", func(j *SweepJob) { j.Scheme.Bits = 9 }, "9-bit"},
		{"group past the parameters", func(j *SweepJob) { j.Group[7] = 2 }, "column 7 in group 2"},
		{"negative group", func(j *SweepJob) { j.Group[0] = -1 }, "column 0 in group -1"},
		{"dynamic groups past the parameters", func(j *SweepJob) { j.GroupSize = 2 }, "dynamic groups of 2"},
		{"dynamic groups not dividing", func(j *SweepJob) { j.GroupSize = 3 }, "dynamic groups of 3"},
	} {
		j := valid()
		tc.spoil(&j)
		if err := j.check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error mentioning %q", tc.name, err, tc.want)
		}
	}
}

// orderOnly is a Factor that only has an order.
type orderOnly int

func (o orderOnly) N() int   { return int(o) }
func (o orderOnly) Release() {}
