package fastmath

import "golang.org/x/sys/cpu"

// hasAVX2 selects the vector loop of ExpShifted.
var hasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func expSumAVX2(dst, src *float32, n int, shift float32) float32
