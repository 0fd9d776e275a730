package safetensors

import (
	"fmt"

	"github.com/qtk-dev/qtk/internal/mmap"
)

// Open maps the file at path into memory and parses it. Tensor data is
// never copied: the Data of its tensors reads the mapping directly, so the
// File must stay open while they are in use. Truncating the file while it
// is mapped makes reads of its tensors crash the process.
func Open(path string) (*File, error) {
	buf, err := mmap.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(buf) < 8 {
		mmap.Unmap(buf)
		return nil, fmt.Errorf("%s: %w", path, errFormat("file is %d bytes, too short for the 8-byte header length", len(buf)))
	}
	f, err := parse(path, buf)
	if err != nil {
		mmap.Unmap(buf)
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.release = mmap.Unmap
	return f, nil
}
