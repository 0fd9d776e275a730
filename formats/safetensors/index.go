package safetensors

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// parseIndex decodes a shard index and returns its weight_map. Errors wrap
// ErrFormat.
func parseIndex(data []byte) (map[string]string, error) {
	if !json.Valid(data) {
		return nil, errFormat("index is not valid JSON")
	}
	var shardOf map[string]string
	dec := json.NewDecoder(bytes.NewReader(data))
	err := decodeObject(dec, func(key string) error {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		if key != "weight_map" {
			return nil // metadata and anything else is informational
		}
		m, err := decodeStrings(raw)
		if err != nil {
			return fmt.Errorf("weight_map: %w", err)
		}
		shardOf = m
		return nil
	})
	if err != nil {
		return nil, errFormat("index: %v", err)
	}
	if len(shardOf) == 0 {
		return nil, errFormat("index has no weight_map or it lists no tensors")
	}
	for name, shard := range shardOf {
		if !isShardName(shard) {
			return nil, errFormat("weight_map: tensor %q: shard %q is not a file name", name, shard)
		}
	}
	return shardOf, nil
}

// isShardName reports whether name is a plain file name, so that an index
// cannot point outside its directory.
func isShardName(name string) bool {
	return filepath.IsLocal(name) && !strings.ContainsAny(name, `/\`)
}

// shardIndex is the index file as transformers writes it.
type shardIndex struct {
	Metadata  indexMetadata     `json:"metadata"`
	WeightMap map[string]string `json:"weight_map"`
}

type indexMetadata struct {
	TotalParameters int64 `json:"total_parameters"`
	TotalSize       int64 `json:"total_size"`
}

// encodeIndex formats an index byte for byte as transformers does, with
// Python's json.dumps(index, indent=2, sort_keys=True) + "\n": sorted keys,
// two-space indent, and non-ASCII characters escaped.
func encodeIndex(idx shardIndex) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(idx); err != nil { // map keys come out sorted
		return nil, err
	}
	return asciiJSON(buf.Bytes()), nil
}

// asciiJSON escapes every non-ASCII character of encoded JSON as \uXXXX
// (surrogate pairs beyond the BMP), as Python's ensure_ascii does. Outside
// strings JSON is ASCII, so the whole text can be rewritten.
func asciiJSON(b []byte) []byte {
	var out bytes.Buffer
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r < utf8.RuneSelf:
			out.WriteByte(b[0])
		case r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(&out, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			fmt.Fprintf(&out, `\u%04x`, r)
		}
		b = b[n:]
	}
	return out.Bytes()
}
