package safetensors

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// decodeObject reads a JSON object from dec and calls member for each key,
// with dec positioned at the key's value; member must consume that value.
// encoding/json keeps the last of repeated keys silently, so decodeObject
// reports them instead: a file must mean one thing.
func decodeObject(dec *json.Decoder, member func(key string) error) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		return fmt.Errorf("expected a JSON object, found %s", describeToken(tok))
	}
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("expected an object key, found %s", describeToken(tok))
		}
		if seen[key] {
			return fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		if err := member(key); err != nil {
			return err
		}
	}
	_, err = dec.Token() // the closing brace
	return err
}

// describeToken names a JSON token for an error message.
func describeToken(tok json.Token) string {
	switch tok := tok.(type) {
	case nil:
		return "null"
	case json.Delim:
		return fmt.Sprintf("%q", string(tok))
	case string:
		return "a string"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}

// decodeStrings reads a JSON object whose values are all strings, such as
// __metadata__ or an index's weight_map.
func decodeStrings(raw []byte) (map[string]string, error) {
	m := make(map[string]string)
	dec := json.NewDecoder(bytes.NewReader(raw))
	err := decodeObject(dec, func(key string) error {
		var v any
		if err := dec.Decode(&v); err != nil {
			return err
		}
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("key %q: value is not a string", key)
		}
		m[key] = s
		return nil
	})
	return m, err
}
