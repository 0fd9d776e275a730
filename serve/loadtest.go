package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LoadOptions describe a load test: Clients concurrent clients stream
// Requests completions in all from the server at URL, within Duration.
type LoadOptions struct {
	URL      string // base URL of the server, e.g. http://127.0.0.1:8080
	Model    string // sent as "model"; "" leaves it out
	Clients  int
	Requests int
	// Duration bounds the whole run: requests still running when it ends
	// are cancelled and count as lost.
	Duration time.Duration
	Prompt   string
	// Each request asks for a number of tokens between MinTokens and
	// MaxTokens (varying from request to request) with ignore_eos, so its
	// completion must hold exactly that many tokens.
	MinTokens, MaxTokens int
	// MetricsInterval is how often /metrics is read to follow KV cache use;
	// 0 means every 100ms.
	MetricsInterval time.Duration
}

// LoadReport is the outcome of a load test. Times are in milliseconds.
type LoadReport struct {
	Clients   int `json:"clients"`
	Requests  int `json:"requests"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	// Lost requests were not finished when the duration ran out.
	Lost   int      `json:"lost"`
	Errors []string `json:"errors,omitempty"` // the first few failures

	Seconds           float64 `json:"seconds"`
	CompletionTokens  int     `json:"completion_tokens"`
	RequestsPerSecond float64 `json:"requests_per_s"`
	TokensPerSecond   float64 `json:"tokens_per_s"`

	TimeToFirstToken Percentiles `json:"time_to_first_token_ms"`
	RequestLatency   Percentiles `json:"request_latency_ms"`
	TimePerToken     Percentiles `json:"time_per_output_token_ms"`

	// From /metrics while the test ran: the most KV cache bytes in use and
	// the budget (0 when the server reports none).
	PeakKVBytesUsed int64 `json:"peak_kv_bytes_used"`
	KVBytesBudget   int64 `json:"kv_bytes_budget"`
}

// Percentiles summarise a distribution.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// OK reports whether every request succeeded and KV memory stayed within
// its budget.
func (r *LoadReport) OK() bool {
	return r.Requests > 0 && r.Succeeded == r.Requests && r.Failed == 0 && r.Lost == 0 &&
		(r.KVBytesBudget == 0 || r.PeakKVBytesUsed <= r.KVBytesBudget)
}

func (o *LoadOptions) check() error {
	switch {
	case o.URL == "":
		return errors.New("load test: no URL")
	case o.Clients < 1 || o.Requests < 1:
		return errors.New("load test: clients and requests must be at least 1")
	case o.Duration <= 0:
		return errors.New("load test: duration must be positive")
	case o.MinTokens < 1 || o.MaxTokens < o.MinTokens:
		return errors.New("load test: need 1 <= MinTokens <= MaxTokens")
	case o.Prompt == "":
		return errors.New("load test: empty prompt")
	}
	return nil
}

// requestResult is what one streamed request measured.
type requestResult struct {
	err              error
	lost             bool
	promptTokens     int
	completionTokens int
	ttft, total      time.Duration
}

// LoadTest runs a load test against a running server.
func LoadTest(ctx context.Context, opts LoadOptions) (*LoadReport, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Duration)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: opts.Clients}}
	defer client.CloseIdleConnections()

	report := &LoadReport{Clients: opts.Clients, Requests: opts.Requests}
	stopWatch := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		watchKV(ctx, client, opts, stopWatch, report)
	}()

	start := time.Now()
	results := make([]requestResult, opts.Requests)
	next := make(chan int)
	var wg sync.WaitGroup
	for range opts.Clients {
		wg.Go(func() {
			for i := range next {
				results[i] = streamOne(ctx, client, opts, i)
			}
		})
	}
	for i := range opts.Requests {
		next <- i
	}
	close(next)
	wg.Wait()
	report.Seconds = time.Since(start).Seconds()
	close(stopWatch)
	<-watched

	var ttft, total, perToken []float64
	promptTokens := -1
	for i, r := range results {
		switch {
		case r.lost:
			report.Lost++
			continue
		case r.err == nil && promptTokens >= 0 && r.promptTokens != promptTokens:
			r.err = fmt.Errorf("prompt_tokens %d, another request of the same prompt had %d", r.promptTokens, promptTokens)
		}
		if r.err != nil {
			report.Failed++
			if len(report.Errors) < 10 {
				report.Errors = append(report.Errors, fmt.Sprintf("request %d: %v", i, r.err))
			}
			continue
		}
		promptTokens = r.promptTokens
		report.Succeeded++
		report.CompletionTokens += r.completionTokens
		ttft = append(ttft, ms(r.ttft))
		total = append(total, ms(r.total))
		if r.completionTokens > 1 {
			perToken = append(perToken, ms(r.total-r.ttft)/float64(r.completionTokens-1))
		}
	}
	report.RequestsPerSecond = float64(report.Succeeded) / report.Seconds
	report.TokensPerSecond = float64(report.CompletionTokens) / report.Seconds
	report.TimeToFirstToken = percentiles(ttft)
	report.RequestLatency = percentiles(total)
	report.TimePerToken = percentiles(perToken)
	return report, nil
}

// LoadTestHandler serves h on a loopback port for the length of a load
// test, then shuts the server down, draining it.
func LoadTestHandler(ctx context.Context, h http.Handler, opts LoadOptions) (*LoadReport, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	serveCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- Serve(serveCtx, ln, h, 10*time.Second) }()
	opts.URL = "http://" + ln.Addr().String()
	report, err := LoadTest(ctx, opts)
	stop()
	if serveErr := <-served; err == nil && serveErr != nil {
		err = fmt.Errorf("shutting the server down: %w", serveErr)
	}
	return report, err
}

// tokensFor is the number of tokens request i asks for.
func (o *LoadOptions) tokensFor(i int) int {
	span := o.MaxTokens - o.MinTokens + 1
	return o.MinTokens + (i*7919)%span
}

// streamOne sends request i and checks its stream: status 200, chunks in
// OpenAI's format, one finish reason "length", a usage chunk whose counts
// match the request, and "data: [DONE]" at the end.
func streamOne(ctx context.Context, client *http.Client, opts LoadOptions, i int) requestResult {
	want := opts.tokensFor(i)
	body := map[string]any{
		"prompt": opts.Prompt, "max_tokens": want, "stream": true, "ignore_eos": true,
		"temperature": 0, "stream_options": map[string]bool{"include_usage": true},
	}
	if opts.Model != "" {
		body["model"] = opts.Model
	}
	payload, _ := json.Marshal(body)
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, opts.URL+"/v1/completions", bytes.NewReader(payload))
	if err != nil {
		return requestResult{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return requestResult{err: err, lost: ctx.Err() != nil}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return requestResult{err: fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(msg))}
	}
	res := requestResult{}
	var finish string
	var u *usage
	done := false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		switch {
		case !ok:
			return requestResult{err: fmt.Errorf("not a server-sent event: %q", line)}
		case done:
			return requestResult{err: errors.New("data after [DONE]")}
		case data == "[DONE]":
			done = true
			continue
		}
		var chunk struct {
			Object  string `json:"object"`
			Choices []struct {
				Text         string  `json:"text"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
			Usage *usage    `json:"usage"`
			Error *apiError `json:"error"`
		}
		if err := json.Unmarshal([]byte(data), &chunk); err != nil {
			return requestResult{err: fmt.Errorf("bad chunk %q: %v", data, err)}
		}
		if chunk.Error != nil {
			return requestResult{err: fmt.Errorf("error in stream: %s", chunk.Error.Message)}
		}
		if chunk.Object != "text_completion" {
			return requestResult{err: fmt.Errorf("chunk object %q", chunk.Object)}
		}
		if chunk.Usage != nil {
			u = chunk.Usage
		}
		for _, c := range chunk.Choices {
			if res.ttft == 0 && (c.Text != "" || c.FinishReason != nil) {
				res.ttft = time.Since(start)
			}
			if c.FinishReason != nil {
				if finish != "" {
					return requestResult{err: errors.New("two finish reasons")}
				}
				finish = *c.FinishReason
			}
		}
	}
	res.total = time.Since(start)
	if err := sc.Err(); err != nil {
		return requestResult{err: err, lost: ctx.Err() != nil}
	}
	switch {
	case !done:
		return requestResult{err: errors.New("the stream ended without data: [DONE]")}
	case finish != "length":
		return requestResult{err: fmt.Errorf("finish_reason %q, want \"length\"", finish)}
	case u == nil:
		return requestResult{err: errors.New("no usage chunk")}
	case u.CompletionTokens != want:
		return requestResult{err: fmt.Errorf("completion_tokens %d, asked for %d", u.CompletionTokens, want)}
	case u.PromptTokens < 1 || u.TotalTokens != u.PromptTokens+u.CompletionTokens:
		return requestResult{err: fmt.Errorf("inconsistent usage %+v", *u)}
	}
	res.promptTokens, res.completionTokens = u.PromptTokens, u.CompletionTokens
	return res
}

// watchKV reads the KV cache gauges from /metrics until stop closes.
func watchKV(ctx context.Context, client *http.Client, opts LoadOptions, stop <-chan struct{}, report *LoadReport) {
	interval := opts.MetricsInterval
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if used, budget, ok := readKV(ctx, client, opts.URL); ok {
			report.PeakKVBytesUsed = max(report.PeakKVBytesUsed, used)
			report.KVBytesBudget = budget
		}
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// readKV reads qtk_kv_bytes_used and qtk_kv_bytes_total from /metrics.
func readKV(ctx context.Context, client *http.Client, url string) (used, budget int64, ok bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/metrics", nil)
	if err != nil {
		return 0, 0, false
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, false
	}
	defer resp.Body.Close()
	found := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, _ := strings.Cut(sc.Text(), " ")
		var dst *int64
		switch name {
		case "qtk_kv_bytes_used":
			dst = &used
		case "qtk_kv_bytes_total":
			dst = &budget
		default:
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return 0, 0, false
		}
		*dst = int64(v)
		found++
	}
	return used, budget, found == 2
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// percentiles uses the nearest-rank method.
func percentiles(v []float64) Percentiles {
	if len(v) == 0 {
		return Percentiles{}
	}
	slices.Sort(v)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(v)))) - 1
		return v[min(max(i, 0), len(v)-1)]
	}
	return Percentiles{P50: rank(0.50), P90: rank(0.90), P99: rank(0.99), Max: v[len(v)-1]}
}
