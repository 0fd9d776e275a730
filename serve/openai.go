package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// The request and response bodies of OpenAI's completions and chat
// completions APIs (https://platform.openai.com/docs/api-reference), the
// parts qtk implements.

// apiRequest is the body of POST /v1/completions and /v1/chat/completions.
// Fields left out take OpenAI's defaults.
type apiRequest struct {
	Model    string          `json:"model"`
	Prompt   json.RawMessage `json:"prompt"`   // completions: a string, [string] or [token id]
	Messages json.RawMessage `json:"messages"` // chat completions

	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	TopK                *int            `json:"top_k"` // an extension vLLM also accepts
	Seed                *int64          `json:"seed"`
	Stop                json.RawMessage `json:"stop"`           // a string or [string]
	StopTokenIDs        []int           `json:"stop_token_ids"` // extension, as in vLLM
	IgnoreEOS           bool            `json:"ignore_eos"`     // extension, as in vLLM
	Stream              bool            `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`

	// Accepted only at their defaults.
	N                *int            `json:"n"`
	BestOf           *int            `json:"best_of"`
	Echo             bool            `json:"echo"`
	Logprobs         json.RawMessage `json:"logprobs"`
	TopLogprobs      *int            `json:"top_logprobs"`
	PresencePenalty  *float64        `json:"presence_penalty"`
	FrequencyPenalty *float64        `json:"frequency_penalty"`
	LogitBias        map[string]any  `json:"logit_bias"`
	Tools            json.RawMessage `json:"tools"`
}

// decodeRequest reads and checks the generic shape of a request body.
func decodeRequest(w http.ResponseWriter, r *http.Request, maxBytes int64) (*apiRequest, *apiError) {
	body := http.MaxBytesReader(w, r.Body, maxBytes)
	dec := json.NewDecoder(body)
	var req apiRequest
	if err := dec.Decode(&req); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &apiError{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("request body exceeds %d bytes", maxBytes), Type: "invalid_request_error"}
		}
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, badRequest(typeErr.Field, "field %q: expected %s, got a JSON %s", typeErr.Field, typeErr.Type, typeErr.Value)
		}
		return nil, badRequest("", "the body is not valid JSON: %v", err)
	}
	if err := req.checkUnsupported(); err != nil {
		return nil, err
	}
	return &req, nil
}

// checkUnsupported rejects options qtk does not implement, unless they hold
// their default value.
func (req *apiRequest) checkUnsupported() *apiError {
	isNull := func(raw json.RawMessage) bool {
		s := string(bytes.TrimSpace(raw))
		return s == "" || s == "null" || s == "false" || s == "0" || s == "[]"
	}
	switch {
	case req.N != nil && *req.N != 1:
		return badRequest("n", "only n=1 is supported")
	case req.BestOf != nil && *req.BestOf != 1:
		return badRequest("best_of", "only best_of=1 is supported")
	case req.Echo:
		return badRequest("echo", "echo is not supported")
	case !isNull(req.Logprobs):
		return badRequest("logprobs", "logprobs are not supported")
	case req.TopLogprobs != nil && *req.TopLogprobs != 0:
		return badRequest("top_logprobs", "logprobs are not supported")
	case req.PresencePenalty != nil && *req.PresencePenalty != 0:
		return badRequest("presence_penalty", "presence_penalty is not supported")
	case req.FrequencyPenalty != nil && *req.FrequencyPenalty != 0:
		return badRequest("frequency_penalty", "frequency_penalty is not supported")
	case len(req.LogitBias) > 0:
		return badRequest("logit_bias", "logit_bias is not supported")
	case !isNull(req.Tools):
		return badRequest("tools", "tools are not supported")
	}
	return nil
}

// promptInput is the prompt of a completions request: text, or token ids.
func (req *apiRequest) promptInput() (text string, ids []int, err *apiError) {
	raw := bytes.TrimSpace(req.Prompt)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil, badRequest("prompt", "prompt is required")
	}
	if json.Unmarshal(raw, &text) == nil {
		return text, nil, nil
	}
	var texts []string
	if json.Unmarshal(raw, &texts) == nil {
		if len(texts) != 1 {
			return "", nil, badRequest("prompt", "exactly one prompt per request is supported, got %d", len(texts))
		}
		return texts[0], nil, nil
	}
	if json.Unmarshal(raw, &ids) == nil {
		if len(ids) == 0 {
			return "", nil, badRequest("prompt", "the prompt is empty")
		}
		return "", ids, nil
	}
	return "", nil, badRequest("prompt", "prompt must be a string, a list of one string or a list of token ids")
}

// chatMessage is one message of a chat request. Content is a string or a
// list of parts, of which only text parts are supported.
type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// text returns the message's content as one string.
func (m chatMessage) text() (string, error) {
	raw := bytes.TrimSpace(m.Content)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var parts []struct {
		Type string  `json:"type"`
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", errors.New("content must be a string or a list of parts")
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type != "text" || p.Text == nil {
			return "", fmt.Errorf("content parts of type %q are not supported", p.Type)
		}
		b.WriteString(*p.Text)
	}
	return b.String(), nil
}

// stopStrings returns the request's stop strings.
func (req *apiRequest) stopStrings() ([]string, *apiError) {
	raw := bytes.TrimSpace(req.Stop)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one == "" {
			return nil, badRequest("stop", "stop strings must not be empty")
		}
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, badRequest("stop", "stop must be a string or a list of strings")
	}
	if len(many) > maxStopStrings {
		return nil, badRequest("stop", "at most %d stop strings are supported", maxStopStrings)
	}
	for _, s := range many {
		if s == "" {
			return nil, badRequest("stop", "stop strings must not be empty")
		}
	}
	return many, nil
}

// maxStopStrings bounds the stop strings of one request (OpenAI allows 4).
const maxStopStrings = 16

// usage is the token accounting of a response.
type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

func newUsage(prompt, completion int) *usage {
	return &usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}
}

// completionChoice is a choice of a /v1/completions response or chunk.
type completionChoice struct {
	Index        int     `json:"index"`
	Text         string  `json:"text"`
	Logprobs     any     `json:"logprobs"`
	FinishReason *string `json:"finish_reason"`
}

// chatChoice is a choice of a /v1/chat/completions response (Message) or
// chunk (Delta).
type chatChoice struct {
	Index        int          `json:"index"`
	Message      *chatContent `json:"message,omitempty"`
	Delta        *chatContent `json:"delta,omitempty"`
	Logprobs     any          `json:"logprobs"`
	FinishReason *string      `json:"finish_reason"`
}

type chatContent struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
}

// response is a whole response or one streamed chunk.
type response struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices any    `json:"choices"`
	Usage   *usage `json:"usage,omitempty"`
}
