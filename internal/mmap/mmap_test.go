package mmap

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMapReadsTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	want := []byte("qtk maps this file")
	if err := os.WriteFile(path, want, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	buf, err := Map(f, len(want))
	f.Close() // the mapping outlives the descriptor
	if err != nil {
		t.Fatal(err)
	}
	if string(buf) != string(want) {
		t.Fatalf("mapped %q, want %q", buf, want)
	}
	if err := Unmap(buf); err != nil {
		t.Fatal(err)
	}
}
