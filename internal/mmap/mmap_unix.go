//go:build unix

// Package mmap maps files read-only into memory for the format readers,
// so that tensor data is read from the page cache and never copied onto
// the heap.
package mmap

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Map maps size bytes of f read-only and shared. The mapping outlives f.
func Map(f *os.File, size int) ([]byte, error) {
	buf, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap: %w", err)
	}
	return buf, nil
}

// Unmap releases a mapping made by Map.
func Unmap(buf []byte) error {
	if len(buf) == 0 {
		return nil // Open's empty files are not mapped
	}
	if err := unix.Munmap(buf); err != nil {
		return fmt.Errorf("munmap: %w", err)
	}
	return nil
}
