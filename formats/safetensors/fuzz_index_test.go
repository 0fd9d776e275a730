package safetensors

import (
	"errors"
	"strings"
	"testing"

	"github.com/qtk-dev/qtk/internal/fuzzseed"
)

// FuzzParseIndex checks that parseIndex never panics, that every error is a
// one-line ErrFormat, and that an accepted index maps at least one tensor
// and only to plain file names inside the checkpoint directory. Seeds are
// in testdata/fuzz/FuzzParseIndex.
func FuzzParseIndex(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		shardOf, err := parseIndex(data)
		if err != nil {
			if !errors.Is(err, ErrFormat) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q: want one line wrapping ErrFormat", err)
			}
			return
		}
		if len(shardOf) == 0 {
			t.Fatal("accepted an index without tensors")
		}
		for name, shard := range shardOf {
			if !isShardName(shard) {
				t.Fatalf("tensor %q: accepted shard %q outside the directory", name, shard)
			}
		}
	})
}

// TestIndexFuzzSeeds keeps the index seed corpus meaningful: seeds named
// valid-* must parse and broken-* must not.
func TestIndexFuzzSeeds(t *testing.T) {
	fuzzseed.Check(t, "testdata/fuzz/FuzzParseIndex/*", func(b []byte) error {
		_, err := parseIndex(b)
		return err
	})
}
