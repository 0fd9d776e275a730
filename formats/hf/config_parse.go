package hf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// ErrNotQuantized is returned by [ParseConfig] for a config.json without a
// quantization_config.
var ErrNotQuantized = errors.New("config.json has no quantization_config")

// ParseConfig recognizes the quantization of a checkpoint from its
// config.json: the quantization_config member (compression_config, its
// name in early compressed-tensors checkpoints, is accepted too).
func ParseConfig(configJSON []byte) (Config, error) {
	top, err := decodeObject(configJSON)
	if err != nil {
		return Config{}, fmt.Errorf("config.json: %w", err)
	}
	for _, key := range []string{"quantization_config", "compression_config"} {
		if raw, ok := top[key]; ok && !isNull(raw) {
			c, err := ParseQuantizationConfig(raw)
			if err != nil {
				return Config{}, fmt.Errorf("config.json: %s: %w", key, err)
			}
			return c, nil
		}
	}
	return Config{}, ErrNotQuantized
}

// ParseQuantizationConfig recognizes a quantization_config object, or the
// content of GPTQ's quantize_config.json or AutoAWQ's quant_config.json,
// which hold the same object. Synonyms the reference readers accept are
// accepted (w_bit, q_group_size; format for checkpoint_format); anything
// qtk cannot read faithfully, such as another kernel layout, per-module
// overrides or quantized activations, is an error wrapping
// [ErrUnsupported] rather than ignored.
func ParseQuantizationConfig(data []byte) (Config, error) {
	o, err := decodeObject(data)
	if err != nil {
		return Config{}, err
	}
	method, ok, err := o.str("quant_method")
	if err != nil {
		return Config{}, err
	}
	if !ok {
		// AutoAWQ's quant_config.json has no quant_method.
		if _, isAWQ := o["zero_point"]; !isAWQ {
			return Config{}, fmt.Errorf("no quant_method")
		}
		method = string(AWQ)
	}
	var c Config
	switch Format(strings.ToLower(method)) {
	case GPTQ:
		c, err = parseGPTQ(o)
	case AWQ:
		c, err = parseAWQ(o)
	case CompressedTensors:
		c, err = parseCompressed(o)
	default:
		return Config{}, fmt.Errorf("quant_method %q: %w", method, ErrUnsupported)
	}
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", strings.ToLower(method), err)
	}
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func parseGPTQ(o object) (Config, error) {
	c := Config{Format: GPTQ}
	var err error
	if c.Scheme.Bits, err = o.requiredInt("bits", "w_bit"); err != nil {
		return c, err
	}
	if c.Scheme.GroupSize, err = o.requiredInt("group_size", "q_group_size"); err != nil {
		return c, err
	}
	sym, err := o.boolean("sym", true) // AutoGPTQ's default
	if err != nil {
		return c, err
	}
	c.Scheme.Symmetric = sym
	// AutoGPTQ defaults desc_act to true; reading g_idx is right either
	// way, since without act-order it holds c / group_size.
	if c.ActOrder, err = o.boolean("desc_act", true); err != nil {
		return c, err
	}
	if c.LMHead, err = o.boolean("lm_head", false); err != nil {
		return c, err
	}
	format, _, err := o.str("checkpoint_format", "format")
	if err != nil {
		return c, err
	}
	switch strings.ToLower(format) {
	case "", "gptq":
		if !sym {
			c.Scheme.MinZero = 1
		}
	case "gptq_v2":
		c.GPTQv2 = true
	default:
		return c, fmt.Errorf("checkpoint format %q: %w", format, ErrUnsupported)
	}
	if raw, ok := o["dynamic"]; ok && !isNull(raw) && !isEmptyObject(raw) {
		return c, fmt.Errorf("per-module overrides (dynamic): %w", ErrUnsupported)
	}
	return c, nil
}

func parseAWQ(o object) (Config, error) {
	c := Config{Format: AWQ}
	var err error
	if c.Scheme.Bits, err = o.requiredInt("bits", "w_bit"); err != nil {
		return c, err
	}
	if c.Scheme.GroupSize, err = o.requiredInt("group_size", "q_group_size"); err != nil {
		return c, err
	}
	zeroPoint, err := o.boolean("zero_point", true)
	if err != nil {
		return c, err
	}
	c.Scheme.Symmetric = !zeroPoint
	version, _, err := o.str("version")
	if err != nil {
		return c, err
	}
	if v := strings.ToLower(version); v != "" && v != "gemm" {
		return c, fmt.Errorf("version %q (qtk reads the GEMM layout): %w", version, ErrUnsupported)
	}
	if c.Ignore, err = o.strings("modules_to_not_convert"); err != nil {
		return c, err
	}
	return c, nil
}

func parseCompressed(o object) (Config, error) {
	c := Config{Format: CompressedTensors}
	format, _, err := o.str("format")
	if err != nil {
		return c, err
	}
	if status, _, err := o.str("quantization_status"); err != nil {
		return c, err
	} else if status != "" && status != "compressed" {
		return c, fmt.Errorf("quantization_status %q: weights are not packed: %w", status, ErrUnsupported)
	}
	if raw, ok := o["kv_cache_scheme"]; ok && !isNull(raw) {
		return c, fmt.Errorf("kv_cache_scheme: %w", ErrUnsupported)
	}
	groups, err := o.object("config_groups")
	if err != nil {
		return c, err
	}
	if len(groups) != 1 {
		return c, fmt.Errorf("%d config groups (qtk reads one): %w", len(groups), ErrUnsupported)
	}
	var group object
	for name, raw := range groups {
		if group, err = decodeObject(raw); err != nil {
			return c, fmt.Errorf("config group %s: %w", name, err)
		}
	}
	if f, ok, err := group.str("format"); err != nil {
		return c, err
	} else if ok {
		format = f // newer versions name the format per group
	}
	if format != "pack-quantized" {
		return c, fmt.Errorf("format %q (qtk reads pack-quantized): %w", format, ErrUnsupported)
	}
	targets, err := group.strings("targets")
	if err != nil {
		return c, err
	}
	if !slices.Contains(targets, "Linear") {
		return c, fmt.Errorf("targets %q (qtk reads [\"Linear\"]): %w", targets, ErrUnsupported)
	}
	for _, key := range []string{"input_activations", "output_activations"} {
		if raw, ok := group[key]; ok && !isNull(raw) {
			return c, fmt.Errorf("%s are quantized: %w", key, ErrUnsupported)
		}
	}
	weights, err := group.object("weights")
	if err != nil {
		return c, err
	}
	if err := parseCompressedArgs(weights, &c); err != nil {
		return c, fmt.Errorf("weights: %w", err)
	}
	ignore, err := o.strings("ignore")
	if err != nil {
		return c, err
	}
	c.LMHead = true
	for _, m := range ignore {
		if m == "lm_head" {
			c.LMHead = false
		} else {
			c.Ignore = append(c.Ignore, m)
		}
	}
	return c, nil
}

func parseCompressedArgs(w object, c *Config) error {
	var err error
	if c.Scheme.Bits, err = w.requiredInt("num_bits"); err != nil {
		return err
	}
	if typ, _, err := w.str("type"); err != nil {
		return err
	} else if typ != "" && strings.ToLower(typ) != "int" {
		return fmt.Errorf("type %q: %w", typ, ErrUnsupported)
	}
	if c.Scheme.Symmetric, err = w.boolean("symmetric", true); err != nil {
		return err
	}
	if dynamic, err := w.boolean("dynamic", false); err != nil {
		return err
	} else if dynamic {
		return fmt.Errorf("dynamic quantization: %w", ErrUnsupported)
	}
	groupSize, hasGroup, err := w.int("group_size")
	if err != nil {
		return err
	}
	strategy, _, err := w.str("strategy")
	if err != nil {
		return err
	}
	switch strings.ToLower(strategy) {
	case "group":
		if !hasGroup || groupSize <= 0 {
			return fmt.Errorf("strategy group without a positive group_size")
		}
		c.Scheme.GroupSize = groupSize
	case "channel":
		c.Scheme.GroupSize = -1
	case "":
		switch {
		case hasGroup && groupSize > 0:
			c.Scheme.GroupSize = groupSize
		case hasGroup && groupSize == -1:
			c.Scheme.GroupSize = -1
		default:
			return fmt.Errorf("no strategy and no group_size: %w", ErrUnsupported)
		}
	default:
		return fmt.Errorf("strategy %q: %w", strategy, ErrUnsupported)
	}
	raw, ok := w["actorder"]
	if !ok || isNull(raw) {
		return nil
	}
	var order any
	if err := json.Unmarshal(raw, &order); err != nil {
		return fmt.Errorf("actorder: %w", err)
	}
	switch v := order.(type) {
	case bool:
		c.ActOrder = v
	case string:
		switch strings.ToLower(v) {
		case "group", "dynamic":
			c.ActOrder = true
		case "weight", "static": // reorders during calibration only
		default:
			return fmt.Errorf("actorder %q: %w", v, ErrUnsupported)
		}
	default:
		return fmt.Errorf("actorder %s: want a string, a boolean or null", raw)
	}
	return nil
}

// object is a JSON object with its members left undecoded; getters treat
// null like an absent member.
type object map[string]json.RawMessage

func decodeObject(data []byte) (object, error) {
	var o object
	if err := json.Unmarshal(data, &o); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if o == nil {
		return nil, fmt.Errorf("not a JSON object: null")
	}
	return o, nil
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

func isEmptyObject(raw json.RawMessage) bool {
	var o map[string]json.RawMessage
	return json.Unmarshal(raw, &o) == nil && len(o) == 0
}

// member returns the first of keys present and not null.
func (o object) member(keys ...string) (string, json.RawMessage, bool) {
	for _, k := range keys {
		if raw, ok := o[k]; ok && !isNull(raw) {
			return k, raw, true
		}
	}
	return "", nil, false
}

func (o object) int(keys ...string) (int, bool, error) {
	k, raw, ok := o.member(keys...)
	if !ok {
		return 0, false, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<31 {
		return 0, false, fmt.Errorf("%s: %s is not an integer", k, raw)
	}
	return int(f), true, nil
}

func (o object) requiredInt(keys ...string) (int, error) {
	v, ok, err := o.int(keys...)
	if err == nil && !ok {
		err = fmt.Errorf("no %s", strings.Join(keys, " or "))
	}
	return v, err
}

func (o object) boolean(key string, def bool) (bool, error) {
	_, raw, ok := o.member(key)
	if !ok {
		return def, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		return false, fmt.Errorf("%s: %s is not a boolean", key, raw)
	}
	return b, nil
}

func (o object) str(keys ...string) (string, bool, error) {
	k, raw, ok := o.member(keys...)
	if !ok {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, fmt.Errorf("%s: %s is not a string", k, raw)
	}
	return s, true, nil
}

// strings returns a list of strings; a single string counts as a list of
// one, as compressed-tensors allows for ignore and targets.
func (o object) strings(key string) ([]string, error) {
	_, raw, ok := o.member(key)
	if !ok {
		return nil, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err == nil {
		return list, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	return nil, fmt.Errorf("%s: %s is not a list of strings", key, raw)
}

func (o object) object(key string) (object, error) {
	_, raw, ok := o.member(key)
	if !ok {
		return nil, fmt.Errorf("no %s", key)
	}
	sub, err := decodeObject(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return sub, nil
}
