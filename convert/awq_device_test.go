package convert

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/formats/hf"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/quant"
)

// TestResidentAWQMatchesCPU quantizes the bundled model with AWQ, its
// activations and searches on the GPU, and on the CPU: the decided
// weights agree up to the clip choices and codes that float32 rounding
// differences flip.
func TestResidentAWQMatchesCPU(t *testing.T) {
	be := residentGPU(t)
	ck := openTiny(t)
	tokens := calibrationTokens(t, ck)
	run := func(be compute.Backend) (map[decidedKey]*quant.Tensor, string) {
		decided := map[decidedKey]*quant.Tensor{}
		var mu sync.Mutex
		var log strings.Builder
		opts := Options{Method: AWQ, Format: hf.AWQ, Scheme: quant.Scheme{Bits: 4, GroupSize: 64}, Tokens: tokens, Backend: be, Clip: true,
			Decided: func(role model.Role, l int, q *quant.Tensor) { decided[decidedKey{role, l}] = q },
			Log: func(format string, args ...any) {
				mu.Lock()
				fmt.Fprintf(&log, format+"\n", args...)
				mu.Unlock()
			}}
		opts.Calib.Samples, opts.Calib.SeqLen = 4, 64
		if _, err := Quantize(context.Background(), ck, filepath.Join(t.TempDir(), "out"), false, opts); err != nil {
			t.Fatal(err)
		}
		return decided, log.String()
	}
	device, log := run(be)
	host, _ := run(compute.CPU)
	if !strings.Contains(log, "activations advanced on the device") {
		t.Errorf("the GPU run did not keep its activations on the device; its log:\n%s", log)
	}
	if len(device) != len(host) || len(host) == 0 {
		t.Fatalf("%d tensors decided on the device, %d on the host", len(device), len(host))
	}
	for k, h := range host {
		want, got := h.Dequantize(), device[k].Dequantize()
		var d, w float64
		for i := range want {
			d += (float64(got[i]) - float64(want[i])) * (float64(got[i]) - float64(want[i]))
			w += float64(want[i]) * float64(want[i])
		}
		e := math.Sqrt(d / w)
		t.Logf("%s of layer %d: device and host decisions differ by %.3g", k.role, k.layer, e)
		if !(e < 0.02) {
			t.Errorf("%s of layer %d: device and host decisions differ by %.3g", k.role, k.layer, e)
		}
	}
}
