package serve

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/qtk-dev/qtk/chattemplate"
	"github.com/qtk-dev/qtk/serving"
)

// post sends a JSON body and returns the status and body.
func post(t *testing.T, h http.Handler, path, body string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, strings.NewReader(body)))
	return rec.Code, rec.Body.String()
}

// sseData returns the data fields of a server-sent event stream.
func sseData(t *testing.T, body string) []string {
	t.Helper()
	var data []string
	for _, line := range strings.Split(body, "\n") {
		if line == "" {
			continue
		}
		d, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("not an event line: %q", line)
		}
		data = append(data, d)
	}
	return data
}

type testChunk struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Text  string `json:"text"`
		Delta struct {
			Role    string  `json:"role"`
			Content *string `json:"content"`
		} `json:"delta"`
		Message struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"message"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *usage `json:"usage"`
}

// streamed joins the text of a stream's chunks and returns it with the
// finish reason and usage; it checks the stream ends with [DONE].
func streamed(t *testing.T, body string) (text, finish string, u *usage) {
	t.Helper()
	data := sseData(t, body)
	if len(data) == 0 || data[len(data)-1] != "[DONE]" {
		t.Fatalf("stream does not end with [DONE]: %q", body)
	}
	var id, model string
	for _, d := range data[:len(data)-1] {
		var c testChunk
		if err := json.Unmarshal([]byte(d), &c); err != nil {
			t.Fatalf("chunk %q: %v", d, err)
		}
		if id == "" {
			id, model = c.ID, c.Model
		}
		if c.ID != id || c.Model != model || model == "" {
			t.Errorf("chunk %q: id or model differs from the first chunk's", d)
		}
		if c.Usage != nil {
			u = c.Usage
		}
		for _, ch := range c.Choices {
			text += ch.Text
			if ch.Delta.Content != nil {
				text += *ch.Delta.Content
			}
			if ch.FinishReason != nil {
				if finish != "" {
					t.Errorf("two finish reasons in %q", body)
				}
				finish = *ch.FinishReason
			}
		}
	}
	return text, finish, u
}

func TestCompletion(t *testing.T) {
	tok := testTokenizer(t)
	script := tok.Encode(" one two three four five six", false)
	gen := newFakeGenerator(script)
	h := newTestHandler(t, gen, nil)
	cases := []struct {
		name, body string
		wantText   string
		wantFinish string
		wantTokens int
	}{
		{"default max_tokens", `{"model": "tiny", "prompt": "Hello"}`, tok.Decode(repeat(script, 16), true), "length", 16},
		{"max_tokens", `{"prompt": ["Hello"], "max_tokens": 3}`, tok.Decode(script[:3], true), "length", 3},
		{"stop string", `{"prompt": "Hello", "max_tokens": 20, "stop": " three"}`, " one two", "stop", 3},
		{"earliest stop string", `{"prompt": "Hello", "max_tokens": 20, "stop": ["ive", "our", "wo"]}`, " one t", "stop", 2},
		{"stop token id", `{"prompt": [5, 6], "max_tokens": 20, "stop_token_ids": [` + itoa(script[1]) + `]}`, tok.Decode(script[:1], true), "stop", 2},
	}
	for _, c := range cases {
		for _, stream := range []bool{false, true} {
			body := c.body
			if stream {
				body = strings.Replace(body, "{", `{"stream": true, "stream_options": {"include_usage": true}, `, 1)
			}
			code, resp := post(t, h, "/v1/completions", body)
			if code != http.StatusOK {
				t.Fatalf("%s: status %d: %s", c.name, code, resp)
			}
			var text, finish string
			var u *usage
			if stream {
				text, finish, u = streamed(t, resp)
			} else {
				var r testChunk
				if err := json.Unmarshal([]byte(resp), &r); err != nil || len(r.Choices) != 1 || r.Object != "text_completion" {
					t.Fatalf("%s: bad response %q (%v)", c.name, resp, err)
				}
				text, finish, u = r.Choices[0].Text, *r.Choices[0].FinishReason, r.Usage
			}
			req := gen.lastRequest(t)
			if text != c.wantText || finish != c.wantFinish {
				t.Errorf("%s (stream %v): got %q, %q; want %q, %q", c.name, stream, text, finish, c.wantText, c.wantFinish)
			}
			if u == nil || u.CompletionTokens != c.wantTokens || u.PromptTokens != len(req.Prompt) || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
				t.Errorf("%s (stream %v): usage %+v, want %d completion and %d prompt tokens", c.name, stream, u, c.wantTokens, len(req.Prompt))
			}
		}
	}
}

func repeat(script []int, n int) []int {
	var out []int
	for len(out) < n {
		out = append(out, script...)
	}
	return out[:n]
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestCompletionRequest checks what reaches the engine.
func TestCompletionRequest(t *testing.T) {
	tok := testTokenizer(t)
	gen := newFakeGenerator([]int{5})
	h := newTestHandler(t, gen, nil)
	cases := []struct {
		body string
		want serving.Request
	}{
		{`{"prompt": "Hi there", "max_tokens": 4, "temperature": 0.5, "top_p": 0.9, "top_k": 40, "seed": 7}`,
			serving.Request{Prompt: tok.Encode("Hi there", true), MaxTokens: 4, Sampling: serving.Sampling{Temperature: 0.5, TopP: 0.9, TopK: 40, Seed: 7}, Stop: []int{testEOS}}},
		{`{"prompt": [9, 8, 7], "max_tokens": 2, "temperature": 0, "top_k": -1, "seed": 1, "ignore_eos": true, "stop_token_ids": [3]}`,
			serving.Request{Prompt: []int{9, 8, 7}, MaxTokens: 2, Sampling: serving.Sampling{TopP: 1, Seed: 1}, Stop: []int{3}}},
		// max_tokens defaults to 16, or what is left of the context.
		{`{"prompt": [` + strings.TrimSuffix(strings.Repeat("1, ", 60), ", ") + `], "seed": 2}`,
			serving.Request{Prompt: slices.Repeat([]int{1}, 60), MaxTokens: 4, Sampling: serving.Sampling{Temperature: 1, TopP: 1, Seed: 2}, Stop: []int{testEOS}}},
	}
	for _, c := range cases {
		if code, resp := post(t, h, "/v1/completions", c.body); code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", c.body, code, resp)
		}
		got := gen.lastRequest(t)
		if !slices.Equal(got.Prompt, c.want.Prompt) || got.MaxTokens != c.want.MaxTokens || got.Sampling != c.want.Sampling || !slices.Equal(got.Stop, c.want.Stop) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.body, got, c.want)
		}
	}
}

func TestChatCompletion(t *testing.T) {
	tok := testTokenizer(t)
	script := tok.Encode(" Fine, thanks.", false)
	gen := newFakeGenerator(append(slices.Clone(script), testEOS))
	h := newTestHandler(t, gen, testTemplate(t))
	body := `{"model": "tiny", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": [{"type": "text", "text": "How are"}, {"type": "text", "text": " you?"}]}]}`
	wantPrompt := tok.Encode("<|system|>\nBe brief.</s>\n<|user|>\nHow are you?</s>\n<|assistant|>\n", false)
	for _, stream := range []bool{false, true} {
		b := body
		if stream {
			b = strings.Replace(b, "{", `{"stream": true, `, 1)
		}
		code, resp := post(t, h, "/v1/chat/completions", b)
		if code != http.StatusOK {
			t.Fatalf("status %d: %s", code, resp)
		}
		if got := gen.lastRequest(t).Prompt; !slices.Equal(got, wantPrompt) {
			t.Errorf("prompt %v, want %v (%q)", got, wantPrompt, tok.Decode(got, false))
		}
		var text, finish string
		if stream {
			data := sseData(t, resp)
			var first testChunk
			json.Unmarshal([]byte(data[0]), &first)
			if first.Object != "chat.completion.chunk" || first.Choices[0].Delta.Role != "assistant" {
				t.Errorf("first chunk %q does not open the assistant's message", data[0])
			}
			text, finish, _ = streamed(t, resp)
		} else {
			var r testChunk
			if err := json.Unmarshal([]byte(resp), &r); err != nil || r.Object != "chat.completion" || len(r.Choices) != 1 {
				t.Fatalf("bad response %q (%v)", resp, err)
			}
			if r.Choices[0].Message.Role != "assistant" || r.Usage == nil || r.Usage.CompletionTokens != len(script)+1 {
				t.Errorf("response %q: want the assistant's message and %d completion tokens", resp, len(script)+1)
			}
			text, finish = r.Choices[0].Message.Content, *r.Choices[0].FinishReason
		}
		if text != " Fine, thanks." || finish != "stop" {
			t.Errorf("stream %v: got %q, %q", stream, text, finish)
		}
	}
}

func TestBadRequests(t *testing.T) {
	gen := newFakeGenerator([]int{5})
	h := newTestHandler(t, gen, testTemplate(t))
	noTemplate := newTestHandler(t, gen, nil)
	small, err := NewHandler(Config{Model: "tiny", Generator: gen, Tokenizer: testTokenizer(t), ContextLength: 64, MaxBodyBytes: 64})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("word ", 100)
	cases := []struct {
		h          http.Handler
		path, body string
		status     int
		param      any
		message    string
	}{
		{h, "/v1/completions", `{"prompt": "x"`, 400, nil, "not valid JSON"},
		{h, "/v1/completions", `[1, 2]`, 400, nil, "expected"},
		{h, "/v1/completions", `{"prompt": "x", "max_tokens": "many"}`, 400, "max_tokens", "expected int"},
		{h, "/v1/completions", `{"model": "gpt-4", "prompt": "x"}`, 400, "model", `model "gpt-4" is not served here`},
		{h, "/v1/completions", `{"max_tokens": 3}`, 400, "prompt", "prompt is required"},
		{h, "/v1/completions", `{"prompt": ["a", "b"]}`, 400, "prompt", "exactly one prompt"},
		{h, "/v1/completions", `{"prompt": {"a": 1}}`, 400, "prompt", "prompt must be"},
		{h, "/v1/completions", `{"prompt": ""}`, 400, "prompt", "encodes to no tokens"},
		{h, "/v1/completions", `{"prompt": [1, 99999]}`, 400, "prompt", "outside the vocabulary"},
		{h, "/v1/completions", `{"prompt": "x", "max_tokens": 0}`, 400, "max_tokens", "at least 1"},
		{h, "/v1/completions", `{"prompt": "x", "max_tokens": 64}`, 400, "max_tokens", "context length is 64"},
		{h, "/v1/completions", `{"prompt": "` + long + `"}`, 400, "prompt", "the prompt has"},
		{h, "/v1/completions", `{"prompt": "x", "temperature": 2.5}`, 400, "temperature", "between 0 and 2"},
		{h, "/v1/completions", `{"prompt": "x", "top_p": 0}`, 400, "top_p", "top_p"},
		{h, "/v1/completions", `{"prompt": "x", "top_k": -2}`, 400, "top_k", "top_k"},
		{h, "/v1/completions", `{"prompt": "x", "stop": ""}`, 400, "stop", "must not be empty"},
		{h, "/v1/completions", `{"prompt": "x", "stop": 5}`, 400, "stop", "stop must be"},
		{h, "/v1/completions", `{"prompt": "x", "stop_token_ids": [-1]}`, 400, "stop_token_ids", "outside the vocabulary"},
		{h, "/v1/completions", `{"prompt": "x", "n": 2}`, 400, "n", "n=1"},
		{h, "/v1/completions", `{"prompt": "x", "logprobs": 3}`, 400, "logprobs", "not supported"},
		{h, "/v1/completions", `{"prompt": "x", "stream_options": {"include_usage": true}}`, 400, "stream_options", "stream: true"},
		{h, "/v1/chat/completions", `{"messages": []}`, 400, "messages", "messages is empty"},
		{h, "/v1/chat/completions", `{"prompt": "x"}`, 400, "messages", "messages is required"},
		{h, "/v1/chat/completions", `{"messages": "hi"}`, 400, "messages", "list of"},
		{h, "/v1/chat/completions", `{"messages": [{"content": "hi"}]}`, 400, "messages", "no role"},
		{h, "/v1/chat/completions", `{"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}`, 400, "messages", "not supported"},
		{h, "/v1/chat/completions", `{"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function"}]}`, 400, "tools", "not supported"},
		{noTemplate, "/v1/chat/completions", `{"messages": [{"role": "user", "content": "hi"}]}`, 400, "messages", "has no chat template"},
		{h, "/v1/nothing", `{}`, 404, nil, "no route"},
		{small, "/v1/completions", `{"prompt": "` + strings.Repeat("x", 100) + `"}`, 413, nil, "exceeds 64 bytes"},
	}
	for _, c := range cases {
		code, body := post(t, c.h, c.path, c.body)
		var e struct {
			Error struct {
				Message string `json:"message"`
				Type    string `json:"type"`
				Param   any    `json:"param"`
				Code    any    `json:"code"`
			} `json:"error"`
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			t.Errorf("%s: body %q is not an error object: %v", c.body, body, err)
			continue
		}
		if code != c.status || e.Error.Param != c.param || e.Error.Type != "invalid_request_error" || !strings.Contains(e.Error.Message, c.message) {
			t.Errorf("%s %s: got %d %+v, want %d param %v message containing %q", c.path, c.body, code, e.Error, c.status, c.param, c.message)
		}
	}
}

// TestTemplateRejection: a conversation the chat template refuses is the
// client's error.
func TestTemplateRejection(t *testing.T) {
	h := newTestHandler(t, newFakeGenerator([]int{5}), testTemplate(t))
	tpl := testTemplate(t)
	// The small-llama template accepts any roles; raise_exception comes from
	// a template that checks them.
	strict, err := chattemplate.Parse(`{% if messages[0].role != 'user' %}{{ raise_exception('first message must be from the user') }}{% endif %}x`)
	if err != nil {
		t.Fatal(err)
	}
	strict.BOSToken, strict.EOSToken = tpl.BOSToken, tpl.EOSToken
	h.cfg.ChatTemplate = strict
	code, body := post(t, h, "/v1/chat/completions", `{"messages": [{"role": "assistant", "content": "hi"}]}`)
	if code != 400 || !strings.Contains(body, "first message must be from the user") {
		t.Errorf("got %d %s", code, body)
	}
}

func TestModelsAndHealth(t *testing.T) {
	h := newTestHandler(t, newFakeGenerator([]int{5}), nil)
	cases := []struct{ path, want string }{
		{"/health", `{"status":"ok"}`},
		{"/v1/models", `"id":"tiny"`},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.path, nil))
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), c.want) {
			t.Errorf("%s: %d %s", c.path, rec.Code, rec.Body.String())
		}
	}
}

// TestClientDisconnect: a client that goes away mid-generation cancels its
// sequence, streamed or not.
func TestClientDisconnect(t *testing.T) {
	gen := newFakeGenerator([]int{5, 6, 7})
	gen.block = true
	srv := httptest.NewServer(newTestHandler(t, gen, nil))
	defer srv.Close()
	for _, stream := range []string{"true", "false"} {
		submitted := gen.requestCount()
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/completions",
			strings.NewReader(`{"prompt": "x", "max_tokens": 20, "stream": `+stream+`}`))
		done := make(chan struct{})
		go func() {
			defer close(done)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			if stream == "true" {
				// Read the first token, then hang up.
				r := bufio.NewReader(resp.Body)
				r.ReadString('\n')
				cancel()
			}
			io.Copy(io.Discard, resp.Body)
		}()
		if stream == "false" {
			// The first token is out once the generator blocks; hang up.
			for gen.requestCount() == submitted {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}
		gen.waitCancelled(t)
		<-done
		cancel()
	}
}

func TestNewHandlerChecksConfig(t *testing.T) {
	tok := testTokenizer(t)
	gen := newFakeGenerator([]int{5})
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{Tokenizer: tok, Model: "m", ContextLength: 8}, "no generator"},
		{Config{Generator: gen, Model: "m", ContextLength: 8}, "no tokenizer"},
		{Config{Generator: gen, Tokenizer: tok, ContextLength: 8}, "no model name"},
		{Config{Generator: gen, Tokenizer: tok, Model: "m", ContextLength: 1}, "context length 1"},
	}
	for _, c := range cases {
		if _, err := NewHandler(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error containing %q", err, c.want)
		}
	}
}
