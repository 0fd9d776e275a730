package serve

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/qtk-dev/qtk/chattemplate"
	"github.com/qtk-dev/qtk/serving"
	"github.com/qtk-dev/qtk/tokenizer"
)

// fakeGenerator answers every request with the tokens of script, repeated
// as needed, honouring MaxTokens, Stop and cancellation like an engine.
type fakeGenerator struct {
	script []int
	delay  time.Duration // before each token
	// block makes every sequence wait for cancellation after its first
	// token.
	block   bool
	metrics serving.Metrics

	mu        sync.Mutex
	requests  []serving.Request
	cancelled chan struct{} // one value per sequence that saw its ctx end
}

func newFakeGenerator(script []int) *fakeGenerator {
	return &fakeGenerator{script: script, cancelled: make(chan struct{}, 1024)}
}

func (g *fakeGenerator) Submit(ctx context.Context, req serving.Request) (<-chan serving.Event, error) {
	g.mu.Lock()
	g.requests = append(g.requests, req)
	g.mu.Unlock()
	events := make(chan serving.Event)
	go func() {
		defer close(events)
		final := func(finish string, n int) serving.Event {
			return serving.Event{Done: true, Finish: finish, PromptTokens: len(req.Prompt), CompletionTokens: n}
		}
		for n := 0; ; n++ {
			if n == req.MaxTokens {
				events <- final(serving.FinishLength, n)
				return
			}
			tok := g.script[n%len(g.script)]
			if slices.Contains(req.Stop, tok) {
				events <- serving.Event{Token: tok, Done: true, Finish: serving.FinishStop, PromptTokens: len(req.Prompt), CompletionTokens: n + 1}
				return
			}
			cancelled := func() {
				g.cancelled <- struct{}{}
				events <- final(serving.FinishCancelled, n)
			}
			if g.block && n > 0 {
				<-ctx.Done()
				cancelled()
				return
			}
			if g.delay > 0 {
				select {
				case <-ctx.Done():
					cancelled()
					return
				case <-time.After(g.delay):
				}
			}
			select {
			case <-ctx.Done():
				cancelled()
				return
			case events <- serving.Event{Token: tok}:
			}
		}
	}()
	return events, nil
}

func (g *fakeGenerator) Metrics() serving.Metrics { return g.metrics }

func (g *fakeGenerator) lastRequest(t *testing.T) serving.Request {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.requests) == 0 {
		t.Fatal("the generator got no request")
	}
	return g.requests[len(g.requests)-1]
}

func (g *fakeGenerator) requestCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.requests)
}

// waitCancelled fails the test unless a sequence sees its context end soon.
func (g *fakeGenerator) waitCancelled(t *testing.T) {
	t.Helper()
	select {
	case <-g.cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the generator never saw its context cancelled")
	}
}

// testTokenizer is tiny-llama's byte-level BPE tokenizer.
func testTokenizer(t testing.TB) *tokenizer.Tokenizer {
	t.Helper()
	tok, err := tokenizer.Load("../testdata/models/tiny-llama/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// testTemplate is small-llama's chat template (the Zephyr format).
func testTemplate(t testing.TB) *chattemplate.Template {
	t.Helper()
	tpl, err := chattemplate.Load("../testdata/tokenizers/llama-spm-tinyllama")
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

const testEOS = 0 // <|endoftext|> in tiny-llama's vocabulary

func newTestHandler(t testing.TB, gen serving.Generator, tpl *chattemplate.Template) *Handler {
	t.Helper()
	h, err := NewHandler(Config{
		Model: "tiny", Generator: gen, Tokenizer: testTokenizer(t), ChatTemplate: tpl,
		EOS: []int{testEOS}, ContextLength: 64,
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}
