package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
)

// shard is one output file: a run of consecutive declared tensors.
type shard struct {
	name        string // final file name
	first, end  int    // the tensors it holds, [first, end) in declared order
	header      []byte // the complete header: length, JSON and padding
	dataSize    int64
	temp        string // the temporary file, once created
	renamedInto bool   // whether temp has been renamed to name
}

// planShards splits tensors of the given sizes, in declared order, into
// runs of at most maxBytes of data each (0: no limit), as transformers
// does; a tensor larger than that gets a run of its own, and an empty one
// never starts a run. There is always at least one run.
func planShards(sizes []int64, maxBytes int64) [][2]int {
	var runs [][2]int
	start, size := 0, int64(0)
	for i, n := range sizes {
		if maxBytes > 0 && i > start && n > 0 && size+n > maxBytes {
			runs = append(runs, [2]int{start, i})
			start, size = i, 0
		}
		size += n
	}
	return append(runs, [2]int{start, len(sizes)})
}

// shardName names shard i of n as transformers does.
func shardName(i, n int) string {
	if n == 1 {
		return SingleFileName
	}
	return fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, n)
}

// encodeHeader returns the bytes that precede the data of a file holding
// tensors: the 8-byte length and the JSON header, padded with spaces to a
// multiple of 8 bytes so that the data section starts aligned. Tensors keep
// their order and data offsets.
func encodeHeader(metadata map[string]string, tensors []TensorInfo) ([]byte, error) {
	var b bytes.Buffer
	b.Write(make([]byte, 8)) // the length, filled in last
	b.WriteByte('{')
	if len(metadata) > 0 {
		b.WriteString(`"` + metadataKey + `":`)
		if err := appendJSON(&b, metadata); err != nil {
			return nil, err
		}
	}
	for i, t := range tensors {
		if i > 0 || len(metadata) > 0 {
			b.WriteByte(',')
		}
		shape := make([]int64, len(t.Shape)) // [] rather than null for a scalar
		for j, d := range t.Shape {
			shape[j] = int64(d)
		}
		entry := tensorEntry{DType: string(t.DType), Shape: shape, DataOffsets: []int64{t.Begin, t.End}}
		if err := appendJSON(&b, t.Name); err != nil {
			return nil, err
		}
		b.WriteByte(':')
		if err := appendJSON(&b, entry); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	n := b.Len() - 8
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("header of %d bytes exceeds the limit of %d", n, MaxHeaderSize)
	}
	out := b.Bytes()
	binary.LittleEndian.PutUint64(out, uint64(n))
	return out, nil
}

// appendJSON writes v as compact JSON, leaving <, > and & unescaped.
func appendJSON(b *bytes.Buffer, v any) error {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	b.Truncate(b.Len() - 1) // Encode's newline
	return nil
}
