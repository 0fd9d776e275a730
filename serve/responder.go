package serve

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// responder writes the answer to a generation request: as server-sent
// events as the text arrives, or as one JSON body at the end.
type responder interface {
	// text passes on newly released text; an error means the client is
	// gone.
	text(delta string) error
	// finish ends a successful response.
	finish(reason string, u *usage)
	// fail ends the response with an error.
	fail(e *apiError)
}

func newResponder(w http.ResponseWriter, j *job, model string) responder {
	base := response{Created: time.Now().Unix(), Model: model}
	if j.chat {
		base.ID, base.Object = newID("chatcmpl-"), "chat.completion"
	} else {
		base.ID, base.Object = newID("cmpl-"), "text_completion"
	}
	if j.stream {
		s := &streamResponder{w: w, rc: http.NewResponseController(w), base: base, chat: j.chat, includeUsage: j.includeUsage}
		if j.chat {
			s.base.Object = "chat.completion.chunk"
		}
		s.start()
		return s
	}
	return &wholeResponder{w: w, base: base, chat: j.chat}
}

// wholeResponder collects the text and answers once.
type wholeResponder struct {
	w    http.ResponseWriter
	base response
	chat bool
	buf  strings.Builder
}

func (r *wholeResponder) text(delta string) error {
	r.buf.WriteString(delta)
	return nil
}

func (r *wholeResponder) finish(reason string, u *usage) {
	resp := r.base
	text := r.buf.String()
	if r.chat {
		resp.Choices = []chatChoice{{Message: &chatContent{Role: "assistant", Content: &text}, FinishReason: &reason}}
	} else {
		resp.Choices = []completionChoice{{Text: text, FinishReason: &reason}}
	}
	resp.Usage = u
	writeJSON(r.w, http.StatusOK, resp)
}

func (r *wholeResponder) fail(e *apiError) { writeError(r.w, e) }

// streamResponder sends OpenAI's chunks as server-sent events, each
// "data: {json}\n\n", and ends the stream with "data: [DONE]".
type streamResponder struct {
	w            http.ResponseWriter
	rc           *http.ResponseController
	base         response
	chat         bool
	includeUsage bool
	err          error // the first write error: the client is gone
}

// start sends the headers (and, for chat, the assistant role) at once, so
// the client sees the stream open before the first token.
func (s *streamResponder) start() {
	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	s.w.WriteHeader(http.StatusOK)
	if s.chat {
		empty := ""
		s.chunk([]chatChoice{{Delta: &chatContent{Role: "assistant", Content: &empty}}}, nil)
	} else {
		s.flush()
	}
}

func (s *streamResponder) text(delta string) error {
	if delta == "" {
		return s.err
	}
	if s.chat {
		s.chunk([]chatChoice{{Delta: &chatContent{Content: &delta}}}, nil)
	} else {
		s.chunk([]completionChoice{{Text: delta}}, nil)
	}
	return s.err
}

func (s *streamResponder) finish(reason string, u *usage) {
	if s.chat {
		s.chunk([]chatChoice{{Delta: &chatContent{}, FinishReason: &reason}}, nil)
	} else {
		s.chunk([]completionChoice{{FinishReason: &reason}}, nil)
	}
	if s.includeUsage {
		s.chunk([]any{}, u)
	}
	s.event("[DONE]")
}

func (s *streamResponder) fail(e *apiError) {
	body, _ := json.Marshal(map[string]any{"error": e})
	s.event(string(body))
	s.event("[DONE]")
}

func (s *streamResponder) chunk(choices any, u *usage) {
	resp := s.base
	resp.Choices, resp.Usage = choices, u
	body, err := json.Marshal(resp)
	if err != nil {
		s.err = err
		return
	}
	s.event(string(body))
}

// event writes one server-sent event and flushes it to the client.
func (s *streamResponder) event(data string) {
	if s.err != nil {
		return
	}
	if _, s.err = s.w.Write([]byte("data: " + data + "\n\n")); s.err == nil {
		s.flush()
	}
}

func (s *streamResponder) flush() {
	if err := s.rc.Flush(); err != nil && s.err == nil {
		s.err = err
	}
}
