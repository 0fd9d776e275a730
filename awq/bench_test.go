package awq

import (
	"testing"

	"github.com/qtk-dev/qtk/quant"
)

// BenchmarkLayer times AWQ on layer 1 of tiny-llama with 16 windows of
// 512 tokens (an eighth of the reference's 128), clip search on. The scale
// search grows linearly with the windows; the clip search samples a fixed
// number of tokens.
func BenchmarkLayer(b *testing.B) {
	tl := loadLayer(b, 1, 16, 512, false)
	opts := Options{Scheme: quant.Scheme{Bits: 4, GroupSize: 128}, Clip: true}
	for b.Loop() {
		w := tl.w
		if _, err := Layer(tl.cfg, &w, tl.acts, opts); err != nil {
			b.Fatal(err)
		}
	}
}
