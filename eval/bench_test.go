package eval

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkPerplexity scores windows of 512 tokens of the bundled WikiText-2
// excerpt, with small-llama from $QTK_DATA when set (else the bundled
// tiny-llama), and reports tokens/s.
func BenchmarkPerplexity(b *testing.B) {
	dir := filepath.Join("..", "testdata", "models", "tiny-llama")
	if data := os.Getenv("QTK_DATA"); data != "" {
		dir = filepath.Join(data, "models", "small-llama")
	}
	m, tok := load(b, dir)
	tokens := readTokens(b, tok, filepath.Join("..", "testdata", "text", "wiki.test.excerpt.raw"))
	const windows = 4
	opts := Options{Protocol: ProtocolHF, Ctx: 512, MaxWindows: windows}
	b.ResetTimer()
	for b.Loop() {
		if _, err := Perplexity(m, tokens, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(windows*512*b.N)/b.Elapsed().Seconds(), "tokens/s")
}
