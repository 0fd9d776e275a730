package model

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qtk-dev/qtk/internal/fuzzseed"
)

// FuzzParseConfig: any input either parses into a config whose derived
// sizes are positive and consistent, or fails with ErrConfig. Seeds: the
// bundled model's config.json and testdata/fuzz/FuzzParseConfig.
func FuzzParseConfig(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("..", "testdata", "models", "tiny-llama", "config.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			if !errors.Is(err, ErrConfig) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q: want one line wrapping ErrConfig", err)
			}
			return
		}
		if cfg.HeadDim <= 0 || cfg.NumHeads%cfg.NumKVHeads != 0 || cfg.RMSNormEps <= 0 {
			t.Fatalf("inconsistent config accepted: %+v", cfg)
		}
		if inv := cfg.InvFrequencies(); len(inv) != cfg.HeadDim/2 {
			t.Fatalf("%d frequencies for head_dim %d", len(inv), cfg.HeadDim)
		}
	})
}

// TestFuzzSeeds keeps the seed corpus meaningful: seeds named valid-* must
// parse and broken-* must not.
func TestFuzzSeeds(t *testing.T) {
	fuzzseed.Check(t, "testdata/fuzz/FuzzParseConfig/*", func(b []byte) error {
		_, err := ParseConfig(b)
		return err
	})
}
