package safetensors

import (
	"errors"
	"fmt"
)

var (
	// ErrFormat is wrapped by every error that reports a malformed file or
	// index, so errors.Is(err, ErrFormat) tells bad input from I/O failure.
	ErrFormat = errors.New("safetensors: malformed file")

	// ErrUnsupportedDType is wrapped by the error [Tensor.Float32] returns
	// for a dtype it does not convert.
	ErrUnsupportedDType = errors.New("unsupported dtype")
)

// formatError describes one problem with a file's contents. Its message
// names the problem only; callers add the file path.
type formatError struct{ msg string }

func (e *formatError) Error() string { return e.msg }
func (e *formatError) Unwrap() error { return ErrFormat }

func errFormat(format string, args ...any) error {
	return &formatError{fmt.Sprintf(format, args...)}
}
