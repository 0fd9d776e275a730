package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkPagedRows times one paged forward step of rows tokens of one
// sequence after a 128-token history (a decode step, or a speculative
// verification of rows-1 drafts), on small-llama when QTK_DATA is set.
func BenchmarkPagedRows(b *testing.B) {
	dir := filepath.Join("..", "testdata", "models", "tiny-llama")
	if data := os.Getenv("QTK_DATA"); data != "" {
		dir = filepath.Join(data, "models", "small-llama")
	}
	m, _ := loadForTest(b, dir)
	const history = 128
	kv, err := m.NewKVPages(16, 16, false)
	if err != nil {
		b.Fatal(err)
	}
	pages := make([]int, 16)
	for i := range pages {
		pages[i] = i
	}
	r := m.NewPagedRunner(kv)
	prompt := make([]int, history)
	if err := r.Forward([]SeqChunk{{Tokens: prompt, Pages: pages}}, nil); err != nil {
		b.Fatal(err)
	}
	for _, rows := range []int{1, 2, 3, 5, 8} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			logits := make([]float32, rows*m.Config.VocabSize)
			chunk := SeqChunk{Tokens: make([]int, rows), Pos: history, Pages: pages, Logits: rows}
			for b.Loop() {
				if err := r.Forward([]SeqChunk{chunk}, logits); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
