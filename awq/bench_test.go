package awq

import (
	"testing"

	"github.com/qtk-dev/qtk/compute"
	"github.com/qtk-dev/qtk/quant"
)

// BenchmarkLayer times AWQ on layer 1 of tiny-llama with 16 windows of
// 512 tokens (an eighth of the reference's 128), clip search on, on the
// CPU and, where one is usable, on the GPU with float32 and with TF32
// products. The scale search grows linearly with the windows; the clip
// search samples a fixed number of tokens.
func BenchmarkLayer(b *testing.B) {
	tl := loadLayer(b, 1, 16, 512, false)
	type run struct {
		name string
		be   compute.Backend
		tf32 bool
	}
	runs := []run{{"cpu", compute.CPU, false}}
	if gpu, err := compute.OpenCUDA(0); err == nil {
		defer gpu.Close()
		runs = append(runs, run{"gpu", gpu, false}, run{"gpu-tf32", gpu, true})
	}
	for _, bk := range runs {
		b.Run(bk.name, func(b *testing.B) {
			opts := Options{Scheme: quant.Scheme{Bits: 4, GroupSize: 128}, Clip: true, Backend: bk.be, TF32: bk.tf32}
			for b.Loop() {
				w := tl.w
				if _, err := Layer(tl.cfg, &w, tl.acts, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
