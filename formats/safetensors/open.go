package safetensors

import (
	"errors"
	"fmt"
	"os"

	"github.com/qtk-dev/qtk/internal/mmap"
)

// Open maps the file at path into memory and parses it. Tensor data is
// never copied: the Data of its tensors reads the mapping directly, so the
// File must stay open while they are in use. Truncating the file while it
// is mapped makes reads of its tensors crash the process.
func Open(path string) (*File, error) {
	osf, err := os.Open(path)
	if err != nil {
		return nil, err // the error names path already
	}
	defer osf.Close() // the mapping outlives the descriptor
	f, err := mapAndParse(path, osf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

func mapAndParse(path string, osf *os.File) (*File, error) {
	fi, err := osf.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	size := fi.Size()
	if size < 8 {
		return nil, errFormat("file is %d bytes, too short for the 8-byte header length", size)
	}
	if uint64(size) > maxInt {
		return nil, fmt.Errorf("file of %d bytes is too large to map", size)
	}
	buf, err := mmap.Map(osf, int(size))
	if err != nil {
		return nil, err
	}
	f, err := parse(path, buf)
	if err != nil {
		mmap.Unmap(buf)
		return nil, err
	}
	f.release = mmap.Unmap
	return f, nil
}
