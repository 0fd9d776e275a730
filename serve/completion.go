package serve

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/qtk-dev/qtk/chattemplate"
	"github.com/qtk-dev/qtk/serving"
)

// defaultCompletionTokens is OpenAI's max_tokens default for completions;
// chat completions default to the rest of the context.
const defaultCompletionTokens = 16

// job is a checked generation request.
type job struct {
	chat         bool
	request      serving.Request
	stops        []string
	stream       bool
	includeUsage bool
}

func (h *Handler) completions(w http.ResponseWriter, r *http.Request) {
	req, aerr := decodeRequest(w, r, h.cfg.MaxBodyBytes)
	if aerr == nil {
		aerr = h.checkModel(req)
	}
	var prompt []int
	if aerr == nil {
		prompt, aerr = h.completionPrompt(req)
	}
	var j *job
	if aerr == nil {
		j, aerr = h.newJob(req, prompt, false)
	}
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	h.run(w, r, j)
}

func (h *Handler) chatCompletions(w http.ResponseWriter, r *http.Request) {
	if h.cfg.ChatTemplate == nil {
		writeError(w, badRequest("messages", "model %q has no chat template (no chat_template in tokenizer_config.json and no chat_template.jinja); use /v1/completions", h.cfg.Model))
		return
	}
	req, aerr := decodeRequest(w, r, h.cfg.MaxBodyBytes)
	if aerr == nil {
		aerr = h.checkModel(req)
	}
	var prompt []int
	if aerr == nil {
		prompt, aerr = h.chatPrompt(req)
	}
	var j *job
	if aerr == nil {
		j, aerr = h.newJob(req, prompt, true)
	}
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	h.run(w, r, j)
}

func (h *Handler) checkModel(req *apiRequest) *apiError {
	if req.Model != "" && req.Model != h.cfg.Model {
		e := badRequest("model", "model %q is not served here; this server serves %q", req.Model, h.cfg.Model)
		e.Code = "model_not_found"
		return e
	}
	return nil
}

// completionPrompt tokenizes the prompt as the tokenizer's encode with
// special tokens does (BOS first for LLaMA tokenizers), or checks token ids.
func (h *Handler) completionPrompt(req *apiRequest) ([]int, *apiError) {
	text, ids, aerr := req.promptInput()
	if aerr != nil {
		return nil, aerr
	}
	if ids == nil {
		ids = h.cfg.Tokenizer.Encode(text, true)
	}
	vocab := h.cfg.Tokenizer.VocabSize()
	for _, id := range ids {
		if id < 0 || id >= vocab {
			return nil, badRequest("prompt", "token id %d is outside the vocabulary (0..%d)", id, vocab-1)
		}
	}
	return ids, nil
}

// chatPrompt renders the messages with the chat template and tokenizes the
// result without adding special tokens (the template writes them), as
// transformers' apply_chat_template does.
func (h *Handler) chatPrompt(req *apiRequest) ([]int, *apiError) {
	var raw []chatMessage
	if len(req.Messages) == 0 || string(req.Messages) == "null" {
		return nil, badRequest("messages", "messages is required")
	}
	if err := json.Unmarshal(req.Messages, &raw); err != nil {
		return nil, badRequest("messages", "messages must be a list of {role, content} objects")
	}
	if len(raw) == 0 {
		return nil, badRequest("messages", "messages is empty")
	}
	messages := make([]chattemplate.Message, len(raw))
	for i, m := range raw {
		if m.Role == "" {
			return nil, badRequest("messages", "message %d has no role", i)
		}
		content, err := m.text()
		if err != nil {
			return nil, badRequest("messages", "message %d: %v", i, err)
		}
		messages[i] = chattemplate.Message{Role: m.Role, Content: content}
	}
	text, err := h.cfg.ChatTemplate.Render(messages, true)
	var raised *chattemplate.TemplateError
	switch {
	case errors.As(err, &raised):
		return nil, badRequest("messages", "the model's chat template rejects these messages: %s", raised.Message)
	case err != nil:
		return nil, serverError(err)
	}
	return h.cfg.Tokenizer.Encode(text, false), nil
}

// newJob checks the generation parameters against the prompt.
func (h *Handler) newJob(req *apiRequest, prompt []int, chat bool) (*job, *apiError) {
	ctxLen := h.cfg.ContextLength
	if len(prompt) == 0 {
		return nil, badRequest("prompt", "the prompt encodes to no tokens")
	}
	if len(prompt) >= ctxLen {
		param := "prompt"
		if chat {
			param = "messages"
		}
		return nil, badRequest(param, "the prompt has %d tokens; the model's context length is %d", len(prompt), ctxLen)
	}
	maxTokens, param := ctxLen-len(prompt), ""
	switch {
	case req.MaxCompletionTokens != nil:
		maxTokens, param = *req.MaxCompletionTokens, "max_completion_tokens"
	case req.MaxTokens != nil:
		maxTokens, param = *req.MaxTokens, "max_tokens"
	case !chat:
		maxTokens = min(defaultCompletionTokens, maxTokens)
	}
	if maxTokens < 1 {
		return nil, badRequest(param, "%s must be at least 1, got %d", param, maxTokens)
	}
	if len(prompt)+maxTokens > ctxLen {
		return nil, badRequest(param, "the model's context length is %d tokens, but %d were requested (%d in the prompt, %d to generate)", ctxLen, len(prompt)+maxTokens, len(prompt), maxTokens)
	}

	sampling := serving.Sampling{Temperature: 1, TopP: 1}
	if t := req.Temperature; t != nil {
		if *t < 0 || *t > 2 {
			return nil, badRequest("temperature", "temperature must be between 0 and 2, got %g", *t)
		}
		sampling.Temperature = *t
	}
	if p := req.TopP; p != nil {
		if *p <= 0 || *p > 1 {
			return nil, badRequest("top_p", "top_p must be in (0, 1], got %g", *p)
		}
		sampling.TopP = *p
	}
	if k := req.TopK; k != nil {
		if *k < -1 {
			return nil, badRequest("top_k", "top_k must be -1 or 0 (all tokens) or positive, got %d", *k)
		}
		sampling.TopK = max(*k, 0)
	}
	if req.Seed != nil {
		sampling.Seed = uint64(*req.Seed)
	} else {
		sampling.Seed = randomSeed()
	}

	stops, aerr := req.stopStrings()
	if aerr != nil {
		return nil, aerr
	}
	var stopIDs []int
	if !req.IgnoreEOS {
		stopIDs = slices.Clone(h.cfg.EOS)
	}
	vocab := h.cfg.Tokenizer.VocabSize()
	for _, id := range req.StopTokenIDs {
		if id < 0 || id >= vocab {
			return nil, badRequest("stop_token_ids", "token id %d is outside the vocabulary (0..%d)", id, vocab-1)
		}
		stopIDs = append(stopIDs, id)
	}
	if req.StreamOptions != nil && !req.Stream {
		return nil, badRequest("stream_options", "stream_options needs stream: true")
	}
	return &job{
		chat:         chat,
		request:      serving.Request{Prompt: prompt, MaxTokens: maxTokens, Sampling: sampling, Stop: stopIDs},
		stops:        stops,
		stream:       req.Stream,
		includeUsage: req.StreamOptions != nil && req.StreamOptions.IncludeUsage,
	}, nil
}

// run submits the job and answers with its result, streamed or whole.
func (h *Handler) run(w http.ResponseWriter, r *http.Request, j *job) {
	start := time.Now()
	// Cancelling ctx ends the sequence: when the client disconnects (the
	// server cancels r.Context()), when a stop string appears, or when the
	// handler returns for any other reason.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	events, err := h.cfg.Generator.Submit(ctx, j.request)
	if err != nil {
		writeError(w, &apiError{Status: http.StatusServiceUnavailable, Message: err.Error(), Type: "server_error"})
		return
	}
	// Whatever the engine still sends after the handler is done is
	// discarded, so that it never blocks on this sequence.
	defer func() { go drain(events) }()

	out := newResponder(w, j, h.cfg.Model)
	text := newTextStream(func(ids []int) string { return h.cfg.Tokenizer.Decode(ids, true) }, j.stops)
	promptTokens, completionTokens := len(j.request.Prompt), 0
	for {
		var ev serving.Event
		var open bool
		select {
		case <-ctx.Done():
			out.fail(&apiError{Status: http.StatusServiceUnavailable, Message: "the request was cancelled", Type: "server_error"})
			return
		case ev, open = <-events:
		}
		if !open {
			out.fail(serverError(errors.New("the engine closed the sequence without a final event")))
			return
		}
		if ev.Done {
			switch ev.Finish {
			case serving.FinishStop, serving.FinishLength:
				if err := out.text(text.flush()); err != nil {
					return
				}
				if ev.PromptTokens > 0 {
					promptTokens, completionTokens = ev.PromptTokens, ev.CompletionTokens
				}
				out.finish(ev.Finish, newUsage(promptTokens, completionTokens))
			case serving.FinishCancelled:
				out.fail(&apiError{Status: http.StatusServiceUnavailable, Message: "the request was cancelled", Type: "server_error"})
			default:
				err := ev.Err
				if err == nil {
					err = errors.New("the engine failed the sequence")
				}
				out.fail(serverError(err))
			}
			return
		}
		completionTokens++
		if completionTokens == 1 {
			h.metrics.firstToken(time.Since(start))
		}
		delta, stopped := text.add(ev.Token)
		if err := out.text(delta); err != nil {
			return // the client is gone
		}
		if stopped {
			cancel()
			out.finish(serving.FinishStop, newUsage(promptTokens, completionTokens))
			return
		}
	}
}

func drain(events <-chan serving.Event) {
	for range events {
	}
}

// randomSeed seeds sampling for a request that names no seed.
func randomSeed() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

// newID returns a response id with the given prefix.
func newID(prefix string) string {
	var b [12]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}
