package serve

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// FuzzRequest posts random bodies to both generation endpoints. Every
// answer must be 200 with a response (or a stream ending in [DONE]), or an
// error status with an OpenAI error object; nothing may panic.
func FuzzRequest(f *testing.F) {
	for _, s := range []string{
		`{"prompt": "Hello", "max_tokens": 3}`,
		`{"prompt": [1, 2, 3], "stream": true, "stop": ["lo", "x"], "stream_options": {"include_usage": true}}`,
		`{"messages": [{"role": "user", "content": "hi"}], "temperature": 0.5, "top_p": 0.9, "top_k": 5, "seed": -3}`,
		`{"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}]}], "stream": true, "max_completion_tokens": 2}`,
		`{"prompt": "x", "n": 1, "logprobs": null, "stop_token_ids": [4]}`,
		`{"prompt": ["x"], "stop": "` + "\uFFFD" + `"}`,
		`not json`,
	} {
		f.Add(s)
	}
	tok := testTokenizer(f)
	gen := newFakeGenerator(tok.Encode(" Hello there, how are you? é 😀", false))
	h := newTestHandler(f, gen, testTemplate(f))
	f.Fuzz(func(t *testing.T, body string) {
		for _, path := range []string{"/v1/completions", "/v1/chat/completions"} {
			code, resp := post(t, h, path, body)
			if code == http.StatusOK {
				if strings.HasPrefix(resp, "data: ") {
					streamed(t, resp)
				} else if !json.Valid([]byte(resp)) {
					t.Fatalf("%s: 200 with body %q", path, resp)
				}
				continue
			}
			var e struct {
				Error *apiError `json:"error"`
			}
			if err := json.Unmarshal([]byte(resp), &e); err != nil || e.Error == nil || e.Error.Message == "" {
				t.Fatalf("%s: status %d with body %q", path, code, resp)
			}
		}
	})
}
