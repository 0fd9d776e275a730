package serve

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/runtime"
	"github.com/qtk-dev/qtk/serving"
)

// sequentialGenerator runs one greedy sequence at a time on the CPU
// runtime: a real model behind the handler, without the serving engine.
type sequentialGenerator struct {
	m  *runtime.Model
	mu sync.Mutex
}

func (g *sequentialGenerator) Submit(ctx context.Context, req serving.Request) (<-chan serving.Event, error) {
	if req.Sampling.Temperature != 0 {
		return nil, errors.New("the test generator is greedy only")
	}
	events := make(chan serving.Event, 1)
	go func() {
		defer close(events)
		g.mu.Lock()
		defer g.mu.Unlock()
		final := serving.Event{Done: true, Finish: serving.FinishLength, PromptTokens: len(req.Prompt)}
		st := g.m.NewState(len(req.Prompt) + req.MaxTokens)
		logits := make([]float32, g.m.Config.VocabSize)
		err := st.Forward(req.Prompt, len(req.Prompt)-1, logits)
		for err == nil && final.CompletionTokens < req.MaxTokens {
			id := (&runtime.Sampler{}).Next(logits)
			final.CompletionTokens++
			if slices.Contains(req.Stop, id) {
				final.Token, final.Finish = id, serving.FinishStop
				break
			}
			select {
			case <-ctx.Done():
				final.Finish = serving.FinishCancelled
				events <- final
				return
			case events <- serving.Event{Token: id}:
			}
			err = st.Forward([]int{id}, 0, logits)
		}
		if err != nil {
			final.Finish, final.Err = serving.FinishError, err
		}
		events <- final
	}()
	return events, nil
}

func (g *sequentialGenerator) Metrics() serving.Metrics { return serving.Metrics{} }

// TestTinyLlama serves tiny-llama and checks that a greedy completion is
// the text the runtime generates for the same prompt.
func TestTinyLlama(t *testing.T) {
	ck, err := model.Open("../testdata/models/tiny-llama")
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	m, err := runtime.Load(ck)
	if err != nil {
		t.Fatal(err)
	}
	tok := testTokenizer(t)
	h, err := NewHandler(Config{
		Model: "tiny-llama", Generator: &sequentialGenerator{m: m}, Tokenizer: tok,
		EOS: ck.Config.EOSTokenIDs, ContextLength: ck.Config.MaxPositions,
	})
	if err != nil {
		t.Fatal(err)
	}
	const prompt, n = "The history of the city", 24
	ids, err := m.NewState(64).Generate(tok.Encode(prompt, true), n, &runtime.Sampler{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := tok.Decode(ids, true)
	code, body := post(t, h, "/v1/completions", `{"prompt": "`+prompt+`", "max_tokens": 24, "temperature": 0, "ignore_eos": true}`)
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	var r testChunk
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if got := r.Choices[0].Text; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	code, body = post(t, h, "/v1/completions", `{"prompt": "`+prompt+`", "max_tokens": 24, "temperature": 0, "ignore_eos": true, "stream": true}`)
	if text, _, _ := streamed(t, body); code != http.StatusOK || text != want {
		t.Errorf("streamed: status %d, got %q, want %q", code, text, want)
	}
}
