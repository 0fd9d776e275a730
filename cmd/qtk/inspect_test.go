package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

var defaultSizes = sizeOptions{batch: 1, groupSize: 128, kvDType: "f16"}

// TestInspectSizes checks the sizing section of the bundled model: 4
// layers, 2 KV heads of 32 values out of 8 query heads, context 1024.
// KV per token at f16 is 2·4·2·32·2 = 1024 bytes (4096 with 8 heads);
// --batch 4 --ctx 512 holds 2048 tokens: 2,097,152 bytes.
func TestInspectSizes(t *testing.T) {
	tests := []struct {
		name         string
		args         []string
		ctx          int
		perToken, kv int64
		wantErr      string
	}{
		{"defaults", nil, 1024, 1024, 1024 * 1024, ""},
		{"batch and context", []string{"--batch", "4", "--ctx", "512"}, 512, 1024, 2048 * 1024, ""},
		{"f32 cache", []string{"--kv-dtype", "f32", "--ctx", "10"}, 10, 2048, 10 * 2048, ""},
		{"unknown cache type", []string{"--kv-dtype", "int3"}, 0, 0, 0, "--kv-dtype"},
		{"no batch", []string{"--batch", "0"}, 0, 0, 0, "--batch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := run(t, "", append([]string{"inspect", tinyLlama, "--json"}, tt.args...)...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var rep inspectReport
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatal(err)
			}
			s := rep.Sizes
			if s.KVBytesPerToken != tt.perToken || s.Serving.Ctx != tt.ctx || s.Serving.KVBytes != tt.kv {
				t.Fatalf("per token %d, ctx %d, cache %d; want %d, %d, %d", s.KVBytesPerToken, s.Serving.Ctx, s.Serving.KVBytes, tt.perToken, tt.ctx, tt.kv)
			}
			if s.KVBytesPerTokenMHA != 4*tt.perToken {
				t.Errorf("multi-head per token %d, want %d", s.KVBytesPerTokenMHA, 4*tt.perToken)
			}
			if len(s.Formats) != 11 || s.Formats[0].Bytes != int64(rep.WeightBytes) {
				t.Errorf("%d formats, fp16 %d bytes; want 11 and the checkpoint's %d", len(s.Formats), s.Formats[0].Bytes, rep.WeightBytes)
			}
		})
	}
	var text bytes.Buffer
	if err := runInspect(tinyLlama, false, defaultSizes, &text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"grouped-query attention", "gguf q4_k_m", "awq int4 g128", "SERVE"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("inspect output lacks %q", want)
		}
	}
}
