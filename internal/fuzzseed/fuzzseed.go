// Package fuzzseed checks committed fuzz seed corpora, so that they keep
// exercising what their names say: seeds named valid-* must parse and
// broken-* must not.
package fuzzseed

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Check runs parse on every []byte seed file matching pattern (a
// filepath.Glob pattern such as "testdata/fuzz/FuzzParse/*").
func Check(t testing.TB, pattern string, parse func([]byte) error) {
	t.Helper()
	paths, err := filepath.Glob(pattern)
	if err != nil || len(paths) == 0 {
		t.Fatalf("%s: no seeds (%v)", pattern, err)
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
		err = parse([]byte(data))
		switch name := filepath.Base(path); {
		case strings.HasPrefix(name, "valid-") && err != nil:
			t.Errorf("%s: %v", path, err)
		case strings.HasPrefix(name, "broken-") && err == nil:
			t.Errorf("%s: parsed", path)
		}
	}
}
