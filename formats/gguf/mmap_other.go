//go:build !unix

package gguf

import (
	"io"
	"os"
)

// mapFile reads the file onto the heap where memory mapping is unavailable.
func mapFile(f *os.File, size int) ([]byte, error) {
	buf := make([]byte, size)
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

func unmapFile([]byte) error { return nil }
