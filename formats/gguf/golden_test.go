package gguf

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update-golden", false,
	"rewrite testdata/ggml from llama.cpp's output (needs QTK_GGML_ORACLE)")

// Known answers from llama.cpp, made by the oracle (testdata/ggml/oracle.c
// linked against the libggml-base.so of the npm package
// @node-llama-cpp/linux-x64 3.22.1, ggml 0.25.1 at commit 0ad4a86):
//
//	input.f32   40 rows of 256 values, two of each kind of testRows
//	TYPE.bin    ggml's encoding of input.f32, for each quantized type
//	sums.txt    per type, the SHA-256 of ggml's encoding of input.f32 and
//	            of ggml's decoding of that encoding
const goldenDir = "testdata/ggml"

// goldenBins are the types whose encodings are kept whole, so that a
// mismatch can be traced to a block; the others are checked by hash.
var goldenBins = map[Type]bool{TypeQ4_0: true, TypeQ4_1: true, TypeQ5_0: true, TypeQ5_1: true,
	TypeQ8_0: true, TypeQ4_K: true, TypeQ6_K: true}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// TestGGMLKnownAnswers checks that every codec encodes input.f32 exactly
// as llama.cpp does and decodes llama.cpp's encoding exactly as it does.
func TestGGMLKnownAnswers(t *testing.T) {
	if *updateGolden {
		writeGolden(t)
	}
	input, err := os.ReadFile(filepath.Join(goldenDir, "input.f32"))
	if err != nil {
		t.Fatal(err)
	}
	values := bytesF32(input)
	sums := readSums(t)
	for _, typ := range codecTypes {
		t.Run(typ.String(), func(t *testing.T) {
			want, ok := sums[typ.String()]
			if !ok {
				t.Fatalf("no line for %s in sums.txt", typ)
			}
			size, _ := typ.RowSize(int64(len(values)))
			got := make([]byte, size)
			if err := Encode(typ, got, values); err != nil {
				t.Fatal(err)
			}
			if goldenBins[typ] {
				bin, err := os.ReadFile(filepath.Join(goldenDir, typ.String()+".bin"))
				if err != nil {
					t.Fatal(err)
				}
				if sha(bin) != want[0] {
					t.Fatalf("%s.bin does not match its sum in sums.txt", typ)
				}
				if i := firstDiff(got, bin); i >= 0 {
					blk := i / typ.TypeSize()
					t.Fatalf("encoding differs from llama.cpp's at byte %d (block %d, row %d)\ngot  %x\nwant %x",
						i, blk, blk*typ.BlockSize()/256, blockAt(got, typ, blk), blockAt(bin, typ, blk))
				}
			}
			if sha(got) != want[0] {
				t.Fatalf("encoding has SHA-256 %s, llama.cpp's %s", sha(got), want[0])
			}
			decoded := make([]float32, len(values))
			if err := Decode(typ, decoded, got); err != nil {
				t.Fatal(err)
			}
			if s := sha(f32Bytes(decoded)); s != want[1] {
				t.Fatalf("decoding has SHA-256 %s, llama.cpp's %s", s, want[1])
			}
		})
	}
}

// readSums reads sums.txt: lines of a type name and two SHA-256 sums.
func readSums(t *testing.T) map[string][2]string {
	f, err := os.Open(filepath.Join(goldenDir, "sums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := make(map[string][2]string)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if len(fields) != 3 {
			t.Fatalf("sums.txt: bad line %q", sc.Text())
		}
		sums[fields[0]] = [2]string{fields[1], fields[2]}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return sums
}

// writeGolden remakes the known answers from the oracle.
func writeGolden(t *testing.T) {
	path := oraclePath(t)
	values := testRows(rand.New(rand.NewPCG(2024, 11)), 2*rowKinds)
	input := f32Bytes(values)
	var sums bytes.Buffer
	sums.WriteString("# type, SHA-256 of llama.cpp's encoding of input.f32, SHA-256 of its decoding\n")
	for _, typ := range codecTypes {
		enc := oracleQuantize(t, path, typ, values, 256)
		dec := oracleDequantize(t, path, typ, enc, len(values))
		fmt.Fprintf(&sums, "%s %s %s\n", typ, sha(enc), sha(f32Bytes(dec)))
		if goldenBins[typ] {
			writeFile(t, filepath.Join(goldenDir, typ.String()+".bin"), enc)
		}
	}
	writeFile(t, filepath.Join(goldenDir, "input.f32"), input)
	writeFile(t, filepath.Join(goldenDir, "sums.txt"), sums.Bytes())
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
