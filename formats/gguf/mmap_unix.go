//go:build unix

package gguf

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps size bytes of f read-only and shared, so that pages come
// from the page cache and are never copied onto the heap.
func mapFile(f *os.File, size int) ([]byte, error) {
	buf, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap: %w", err)
	}
	return buf, nil
}

func unmapFile(buf []byte) error {
	if err := unix.Munmap(buf); err != nil {
		return fmt.Errorf("munmap: %w", err)
	}
	return nil
}
