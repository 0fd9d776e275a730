package gguf

import (
	"errors"
	"fmt"
)

var (
	// ErrFormat is wrapped by every error that reports a malformed file, so
	// errors.Is(err, ErrFormat) tells bad input from I/O failure.
	ErrFormat = errors.New("gguf: malformed file")

	// ErrUnsupportedType is wrapped by the errors of [Encode], [Decode] and
	// [File.Dequantize] for a tensor type they have no codec for.
	ErrUnsupportedType = errors.New("gguf: unsupported tensor type")

	// ErrNotFound is wrapped by the errors of the metadata getters and of
	// the File's tensor accessors for a key or tensor the file lacks.
	ErrNotFound = errors.New("gguf: not found")

	// ErrValueType is wrapped by the errors of the metadata getters when a
	// value exists but has another type than the one asked for.
	ErrValueType = errors.New("gguf: wrong value type")
)

// formatError describes one problem with a file's contents, at a byte
// offset when one applies. Its message names the problem only; callers add
// the file's name.
type formatError struct {
	off int64 // -1 when the problem has no single position
	msg string
}

func (e *formatError) Error() string {
	if e.off < 0 {
		return e.msg
	}
	return fmt.Sprintf("at offset %d: %s", e.off, e.msg)
}

func (e *formatError) Unwrap() error { return ErrFormat }

// errFormat reports a problem that has no single position in the file.
func errFormat(format string, args ...any) error {
	return &formatError{off: -1, msg: fmt.Sprintf(format, args...)}
}

// errFormatAt reports a problem found at byte offset off.
func errFormatAt(off int, format string, args ...any) error {
	return &formatError{off: int64(off), msg: fmt.Sprintf(format, args...)}
}
