package awq

import (
	"testing"

	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/model"
)

// TestDeviceRows checks where each linear sits in the device layer's
// fused projections: q, k, v stacked in QKV and gate, up in GateUp, in
// that order, each with its own row count, o and down alone.
func TestDeviceRows(t *testing.T) {
	cfg := &model.Config{HiddenSize: 64, IntermediateSize: 96, NumHeads: 4, NumKVHeads: 2, HeadDim: 16}
	d := deviceLinears{cfg: cfg}
	next := map[string]int{} // the next free row of each projection
	for _, r := range linearRoles {
		input, row0, rows := d.rows(r)
		out, _ := shape(cfg, r)
		if rows != out || row0 != next[input] {
			t.Errorf("%s: rows [%d, %d) of %s, want [%d, %d)", r, row0, row0+rows, input, next[input], next[input]+out)
		}
		next[input] = row0 + rows
	}
	for input, want := range map[string]int{compute.InputQKV: 64 + 2*32, compute.InputO: 64, compute.InputGateUp: 2 * 96, compute.InputDown: 64} {
		if next[input] != want {
			t.Errorf("%s: %d rows covered, the projection has %d", input, next[input], want)
		}
	}
}
