//go:build !unix

// Package mmap maps files read-only into memory for the format readers;
// where memory mapping is unavailable it reads them onto the heap.
package mmap

import (
	"io"
	"os"
)

// Map reads size bytes of f.
func Map(f *os.File, size int) ([]byte, error) {
	buf := make([]byte, size)
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// Unmap does nothing: the buffer is garbage collected.
func Unmap([]byte) error { return nil }
