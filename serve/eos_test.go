package serve

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestEOSTokens(t *testing.T) {
	cases := []struct {
		generationConfig string // "" for no file
		configEOS        []int
		want             []int
		wantErr          bool
	}{
		{"", []int{2}, []int{2}, false},
		{`{"eos_token_id": 2}`, []int{2}, []int{2}, false},
		{`{"eos_token_id": [128001, 128009]}`, []int{128001}, []int{128001, 128009}, false},
		{`{"eos_token_id": null}`, []int{7}, []int{7}, false},
		{`{"bos_token_id": 1}`, nil, nil, false},
		{`{"eos_token_id": "x"}`, nil, nil, true},
		{`{`, nil, nil, true},
	}
	for _, c := range cases {
		dir := t.TempDir()
		if c.generationConfig != "" {
			os.WriteFile(filepath.Join(dir, "generation_config.json"), []byte(c.generationConfig), 0o644)
		}
		got, err := EOSTokens(dir, c.configEOS)
		if (err != nil) != c.wantErr || !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, %v; want %v (error %v)", c.generationConfig, got, err, c.want, c.wantErr)
		}
	}
}
