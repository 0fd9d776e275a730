package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"unicode/utf8"
)

// MaxHeaderSize is the largest JSON header qtk reads, in bytes. Headers of
// real checkpoints with thousands of tensors stay well below 1 MiB.
const MaxHeaderSize = 100 << 20

// metadataKey is the header key of the free-form string metadata.
const metadataKey = "__metadata__"

// TensorInfo describes one tensor as the header declares it.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int // empty for a scalar
	// Begin and End are the tensor's byte range within the data section,
	// which starts after the header.
	Begin, End int64
}

// header is a parsed and validated file header.
type header struct {
	metadata  map[string]string
	tensors   []TensorInfo // in data-offset order
	dataStart int          // offset of the data section in the file
}

// parseHeader reads and validates the header of the file held in buf; every
// error wraps ErrFormat.
func parseHeader(buf []byte) (*header, error) {
	if len(buf) < 8 {
		return nil, errFormat("file is %d bytes, too short for the 8-byte header length", len(buf))
	}
	n := binary.LittleEndian.Uint64(buf)
	if n > MaxHeaderSize {
		return nil, errFormat("header length %d exceeds the limit of %d bytes", n, MaxHeaderSize)
	}
	if n > uint64(len(buf)-8) {
		return nil, errFormat("header length %d exceeds the %d bytes that follow it", n, len(buf)-8)
	}
	text := buf[8 : 8+n]
	if !utf8.Valid(text) {
		return nil, errFormat("header is not valid UTF-8")
	}
	if len(text) == 0 || text[0] != '{' {
		return nil, errFormat("header does not start with '{'")
	}

	h := &header{metadata: map[string]string{}, dataStart: 8 + int(n)}
	dec := json.NewDecoder(bytes.NewReader(text))
	err := decodeObject(dec, func(key string) error {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		if key == metadataKey {
			return h.parseMetadata(raw)
		}
		info, err := parseTensorInfo(key, raw)
		if err != nil {
			return err
		}
		h.tensors = append(h.tensors, info)
		return nil
	})
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, new(*formatError)):
		return nil, err // from a tensor or the metadata
	case errors.As(err, &syntax):
		return nil, errFormat("header is not valid JSON: %v", err)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return nil, errFormat("header is not valid JSON: it ends early")
	case err != nil:
		return nil, errFormat("header: %v", err)
	}
	if rest := bytes.TrimLeft(text[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return nil, errFormat("header has %d bytes after its JSON object", len(rest))
	}
	if err := h.checkLayout(int64(len(buf) - h.dataStart)); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *header) parseMetadata(raw json.RawMessage) error {
	if string(raw) == "null" {
		return nil
	}
	m, err := decodeStrings(raw)
	if err != nil {
		return errFormat("%s: %v", metadataKey, err)
	}
	h.metadata = m
	return nil
}

// tensorEntry is one tensor's header entry as JSON spells it.
type tensorEntry struct {
	DType       string  `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// parseTensorInfo decodes and checks one tensor's entry on its own; the
// layout of all tensors together is checked by checkLayout.
func parseTensorInfo(name string, raw json.RawMessage) (TensorInfo, error) {
	fail := func(format string, args ...any) (TensorInfo, error) {
		return TensorInfo{}, errFormat("tensor %q: %s", name, fmt.Sprintf(format, args...))
	}
	if name == "" {
		return fail("empty tensor name")
	}
	if raw[0] != '{' {
		return fail("entry is not a JSON object")
	}
	var e tensorEntry
	if err := json.Unmarshal(raw, &e); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fail("%s: unexpected %s", te.Field, te.Value)
		}
		return fail("%v", err)
	}
	switch {
	case e.DType == "":
		return fail("missing dtype")
	case e.Shape == nil:
		return fail("missing shape")
	case e.DataOffsets == nil:
		return fail("missing data_offsets")
	case len(e.DataOffsets) != 2:
		return fail("data_offsets has %d values, want [begin, end]", len(e.DataOffsets))
	}
	info := TensorInfo{
		Name:  name,
		DType: DType(e.DType),
		Shape: make([]int, len(e.Shape)),
		Begin: e.DataOffsets[0],
		End:   e.DataOffsets[1],
	}
	for i, d := range e.Shape {
		if d < 0 {
			return fail("shape %v has a negative dimension", e.Shape)
		}
		if uint64(d) > maxInt {
			return fail("shape %v has a dimension too large", e.Shape)
		}
		info.Shape[i] = int(d)
	}
	if info.Begin < 0 || info.End < 0 {
		return fail("negative data_offsets [%d, %d]", info.Begin, info.End)
	}
	if info.Begin > info.End {
		return fail("data_offsets [%d, %d] end before they begin", info.Begin, info.End)
	}
	size, err := byteSize(info.DType, info.Shape)
	if err != nil {
		return fail("%v", err)
	}
	if size != info.End-info.Begin {
		return fail("shape %v of %s needs %d bytes, data_offsets [%d, %d] hold %d",
			info.Shape, info.DType, size, info.Begin, info.End, info.End-info.Begin)
	}
	return info, nil
}

// checkLayout sorts the tensors by offset and checks that they tile the
// data section exactly: no byte outside it, none shared, none unused. The
// format requires this so that a file cannot hide data.
func (h *header) checkLayout(dataSize int64) error {
	slices.SortFunc(h.tensors, func(a, b TensorInfo) int {
		return cmp.Or(cmp.Compare(a.Begin, b.Begin), cmp.Compare(a.End, b.End), cmp.Compare(a.Name, b.Name))
	})
	var end int64 // end of the data covered so far
	for i, t := range h.tensors {
		switch {
		case t.End > dataSize:
			return errFormat("tensor %q: data_offsets [%d, %d] extend past the %d-byte data section",
				t.Name, t.Begin, t.End, dataSize)
		case t.Begin < end:
			prev := h.tensors[i-1]
			return errFormat("tensor %q: data_offsets [%d, %d] overlap tensor %q at [%d, %d]",
				t.Name, t.Begin, t.End, prev.Name, prev.Begin, prev.End)
		case t.Begin > end:
			return errFormat("tensor %q: data_offsets [%d, %d] leave bytes %d to %d of the data section unused",
				t.Name, t.Begin, t.End, end, t.Begin)
		}
		end = t.End
	}
	if end != dataSize {
		return errFormat("data section is %d bytes but its tensors cover %d", dataSize, end)
	}
	return nil
}
