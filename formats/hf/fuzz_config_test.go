package hf

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
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

// TestQuantizationConfigSeeds keeps the seed corpus meaningful: seeds named
// valid-* must parse and broken-* must not.
func TestQuantizationConfigSeeds(t *testing.T) {
	paths, err := filepath.Glob("testdata/fuzz/FuzzParseQuantizationConfig/*")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no seeds: %v", err)
	}
	for _, path := range paths {
		text, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		quoted, ok := strings.CutPrefix(string(text), "go test fuzz v1\n[]byte(")
		quoted, ok2 := strings.CutSuffix(quoted, ")\n")
		data, err := strconv.Unquote(quoted)
		if !ok || !ok2 || err != nil {
			t.Fatalf("%s: not a []byte seed", path)
		}
		_, err = ParseQuantizationConfig([]byte(data))
		switch name := filepath.Base(path); {
		case strings.HasPrefix(name, "valid-") && err != nil:
			t.Errorf("%s: %v", path, err)
		case strings.HasPrefix(name, "broken-") && err == nil:
			t.Errorf("%s: parsed", path)
		}
	}
}
