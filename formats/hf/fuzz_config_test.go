package hf

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/qtk-dev/qtk/internal/fuzzseed"
)

// FuzzParseQuantizationConfig checks that any input either fails with a
// one-line error or gives a valid Config whose own quantization_config
// parses back to the same Config. Seeds are in
// testdata/fuzz/FuzzParseQuantizationConfig.
func FuzzParseQuantizationConfig(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseQuantizationConfig(data)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q spans lines", err)
			}
			return
		}
		if err := c.validate(); err != nil {
			t.Fatalf("accepted an invalid config %+v: %v", c, err)
		}
		written, err := c.QuantizationConfig()
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		raw, err := json.Marshal(written)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseQuantizationConfig(raw)
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("%s reads back as %+v (%v), want %+v", raw, again, err, c)
		}
	})
}

// TestQuantizationConfigSeeds keeps the seed corpus meaningful: seeds
// named valid-* must parse and broken-* must not.
func TestQuantizationConfigSeeds(t *testing.T) {
	fuzzseed.Check(t, "testdata/fuzz/FuzzParseQuantizationConfig/*", func(b []byte) error {
		_, err := ParseQuantizationConfig(b)
		return err
	})
}
