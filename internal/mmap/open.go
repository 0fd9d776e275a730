package mmap

import (
	"errors"
	"fmt"
	"math"
	"os"
)

// Open maps the whole regular file at path read-only. Release the result
// with Unmap. Errors do not name the path; callers add it.
func Open(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errors.Unwrap(err) // the caller names path
	}
	defer f.Close() // the mapping outlives the descriptor
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	size := fi.Size()
	if uint64(size) > math.MaxInt {
		return nil, fmt.Errorf("file of %d bytes is too large to map", size)
	}
	if size == 0 {
		return []byte{}, nil // mmap refuses empty mappings
	}
	return Map(f, int(size))
}
