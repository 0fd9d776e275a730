package main

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var tinyLlama = filepath.Join("..", "..", "testdata", "models", "tiny-llama")

// benchText is a text excerpt for commands that read one.
var benchText = filepath.Join("..", "..", "testdata", "text", "wiki.test.excerpt.raw")

// run executes qtk with args and returns stdout and the error main would
// print.
func run(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// copyModel copies the bundled model into a temporary directory and
// applies corrupt to it.
func copyModel(t *testing.T, corrupt func(dir string)) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "model")
	os.Mkdir(dir, 0o755)
	entries, err := os.ReadDir(tinyLlama)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(tinyLlama, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644)
	}
	corrupt(dir)
	return dir
}

func TestBadInputGivesOneLineError(t *testing.T) {
	shard := "model-00001-of-00003.safetensors"
	write := func(name string, data []byte) func(string) {
		return func(dir string) { os.WriteFile(filepath.Join(dir, name), data, 0o644) }
	}
	header := func(n uint64, rest string) []byte {
		b := binary.LittleEndian.AppendUint64(nil, n)
		return append(b, rest...)
	}
	empty := filepath.Join(t.TempDir(), "empty.txt")
	os.WriteFile(empty, nil, 0o644)
	binary := filepath.Join(t.TempDir(), "binary.txt")
	os.WriteFile(binary, []byte{0xff, 0xfe, 0x00}, 0o644)
	short := filepath.Join(t.TempDir(), "short.txt")
	os.WriteFile(short, []byte("Hello world"), 0o644)
	data := filepath.Join("..", "..", "testdata", "text", "wiki.test.excerpt.raw")

	tests := []struct {
		name    string
		corrupt func(dir string)
		args    func(dir string) []string
		want    string
	}{
		{"truncated shard", func(dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, shard))
			os.WriteFile(filepath.Join(dir, shard), b[:len(b)/2], 0o644)
		}, nil, shard},
		{"absurd header length", write(shard, header(1<<60, "{}")), nil, shard},
		{"offsets past the end", write(shard, header(90, `{"model.embed_tokens.weight":{"dtype":"BF16","shape":[4096,256],"data_offsets":[0,2097152]}}`)), nil, shard},
		{"missing shard", func(dir string) { os.Remove(filepath.Join(dir, shard)) }, nil, shard},
		{"malformed config", write("config.json", []byte(`{"model_type":`)), nil, "config.json"},
		{"unknown model type", write("config.json", []byte(`{"model_type":"bert","hidden_size":8}`)), nil, `unsupported model_type "bert"`},
		{"wrong shape in config", func(dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
			os.WriteFile(filepath.Join(dir, "config.json"), bytes.Replace(b, []byte(`"intermediate_size": 768`), []byte(`"intermediate_size": 512`), 1), 0o644)
		}, nil, "shape"},
		{"malformed tokenizer", write("tokenizer.json", []byte(`{"model":`)), nil, "tokenizer.json"},
		{"empty data file", func(string) {}, func(dir string) []string { return []string{"eval", "ppl", dir, "--data", empty} }, "empty"},
		{"binary data file", func(string) {}, func(dir string) []string { return []string{"eval", "ppl", dir, "--data", binary} }, "not UTF-8"},
		{"data is a directory", func(string) {}, func(dir string) []string { return []string{"eval", "ppl", dir, "--data", dir} }, "directory"},
		{"missing model", func(string) {}, func(dir string) []string { return []string{"eval", "ppl", dir + "-nope", "--data", data} }, "no such file"},
		{"unknown protocol", func(string) {}, func(dir string) []string {
			return []string{"eval", "ppl", dir, "--data", data, "--protocol", "wiki"}
		}, "unknown protocol"},
		{"text shorter than a window", func(string) {}, func(dir string) []string {
			return []string{"eval", "ppl", dir, "--data", short}
		}, "shorter than one window"},
		{"decode of a non-id", func(string) {}, func(dir string) []string { return []string{"tokenize", dir, "--decode", "--text", "12 x"} }, `"x" is not a token id`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyModel(t, tt.corrupt)
			args := []string{"eval", "ppl", dir, "--data", data, "--max-windows", "1"}
			if tt.args != nil {
				args = tt.args(dir)
			}
			_, err := run(t, "", args...)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.Contains(msg, tt.want) {
				t.Fatalf("error %q: want one line containing %q", msg, tt.want)
			}
		})
	}
}

func TestTokenizeRoundTrip(t *testing.T) {
	out, err := run(t, "Hello world", "tokenize", tinyLlama)
	if err != nil {
		t.Fatal(err)
	}
	// tokenizer.golden.json: "Hello world" → 40 439 79 1214.
	if strings.TrimSpace(out) != "40 439 79 1214" {
		t.Fatalf("ids %q", out)
	}
	text, err := run(t, "", "tokenize", tinyLlama, "--decode", "--text", out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(text) != "Hello world" {
		t.Fatalf("decoded %q", text)
	}
}

func TestGenerateGreedy(t *testing.T) {
	out, err := run(t, "", "generate", tinyLlama, "-p", "The history of the city", "-n", "8", "--json")
	if err != nil {
		t.Fatal(err)
	}
	// reference.json greedy_32 starts 433 263 2321 672 83 411 401 30.
	if !strings.Contains(out, `"ids":[433,263,2321,672,83,411,401,30]`) {
		t.Fatalf("output %s", out)
	}
}
