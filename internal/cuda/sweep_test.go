package cuda

import (
	"strings"
	"testing"
)

// TestSweepCheck: SweepBlock refuses buffers smaller than the sweep's
// shape before launching anything, so that no kernel runs off one.
func TestSweepCheck(t *testing.T) {
	const out, in, groups = 5, 12, 3
	buf := func(bytes int) Buffer { return Buffer{bytes: uintptr(bytes)} }
	valid := func() Sweep {
		return Sweep{
			Out: out, In: in, Groups: groups, DynamicGroups: true, GroupSize: 4, MaxQ: 15,
			W: buf(4 * out * in), U: buf(4 * in * in), E: buf(4 * out * SweepMaxBlock), Q: buf(out * in),
			Scale: buf(4 * out * groups), Zero: buf(out * groups), Group: buf(4 * in), Loss: buf(8 * out),
		}
	}
	if s := valid(); s.check() != nil {
		t.Fatalf("valid sweep refused: %v", s.check())
	}
	for _, tc := range []struct {
		spoil func(*Sweep)
		want  string
	}{
		{func(s *Sweep) { s.W.bytes-- }, "W has"},
		{func(s *Sweep) { s.U.bytes-- }, "U has"},
		{func(s *Sweep) { s.E = buf(4 * out * (SweepMaxBlock - 1)) }, "E has"},
		{func(s *Sweep) { s.Q.bytes-- }, "Q has"},
		{func(s *Sweep) { s.Scale.bytes-- }, "Scale has"},
		{func(s *Sweep) { s.Zero.bytes-- }, "Zero has"},
		{func(s *Sweep) { s.Group.bytes-- }, "Group has"},
		{func(s *Sweep) { s.Loss.bytes-- }, "Loss has"},
		{func(s *Sweep) { s.MaxQ = 256 }, "maxq 256"},
		{func(s *Sweep) { s.GroupSize = 3 }, "dynamic groups of 3 in 3"},
		{func(s *Sweep) { s.GroupSize = 5 }, "dynamic groups of 5"},
	} {
		s := valid()
		tc.spoil(&s)
		if err := s.check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v, want an error mentioning %q", err, tc.want)
		}
	}
	s := valid()
	var c Ctx
	for _, block := range [][2]int{{-1, 4}, {0, 0}, {0, SweepMaxBlock + 1}, {8, 5}} {
		if err := c.SweepBlock(&s, block[0], block[1]); err == nil || !strings.Contains(err.Error(), "sweep block") {
			t.Errorf("block at %d of %d columns: %v", block[0], block[1], err)
		}
	}
}
