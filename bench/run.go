package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/qtk-dev/qtk/serving"
)

// Result is what a run measured. Token rates count useful tokens only
// (no padding).
type Result struct {
	Requests        int     `json:"requests"`
	Concurrency     int     `json:"concurrency"`
	PromptTokens    int     `json:"prompt_tokens"`
	GeneratedTokens int     `json:"generated_tokens"`
	Seconds         float64 `json:"seconds"`
	// CPUSeconds is the process's user and system CPU time during the
	// run: on a shared machine, TokensPerCPUSecond is steadier than the
	// rates over wall time.
	CPUSeconds         float64 `json:"cpu_seconds"`
	TokensPerCPUSecond float64 `json:"tokens_per_cpu_second"`
	// ThroughputTokensPerS is prompt plus generated tokens per second of
	// the whole run.
	ThroughputTokensPerS float64 `json:"throughput_tokens_per_s"`
	// DecodeTokensPerS is generated tokens per second of the whole run.
	DecodeTokensPerS float64 `json:"decode_tokens_per_s"`
	// PrefillTokensPerS is prompt tokens over time to first token,
	// averaged over requests: the prefill speed a client sees.
	PrefillTokensPerS float64     `json:"prefill_tokens_per_s"`
	TTFTms            Percentiles `json:"ttft_ms"`
	// MsPerToken is each request's time between its first and last token
	// over the tokens in between.
	MsPerToken Percentiles `json:"ms_per_token"`

	KV          KVUse   `json:"kv"`
	Preemptions uint64  `json:"preemptions"`
	DraftTokens uint64  `json:"draft_tokens_proposed,omitempty"`
	Acceptance  float64 `json:"draft_acceptance,omitempty"`
}

// Percentiles of a latency, in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
}

// KVUse compares the cache memory in use with the tokens it holds,
// sampled while every client's request was generating.
type KVUse struct {
	Samples int `json:"samples"`
	// MeanBytesUsed is the cache memory in use, MeanBytesHeld what the
	// tokens held need at BytesPerToken; UsedOverHeld their ratio.
	MeanBytesUsed int64   `json:"mean_bytes_used"`
	PeakBytesUsed int64   `json:"peak_bytes_used"`
	MeanBytesHeld int64   `json:"mean_bytes_held"`
	UsedOverHeld  float64 `json:"used_over_held"`
	// PreallocBytes is what reserving MaxPositions tokens per concurrent
	// request would take; UsedOverPrealloc compares the mean use with it.
	PreallocBytes    int64   `json:"prealloc_bytes"`
	UsedOverPrealloc float64 `json:"used_over_prealloc"`
	BytesPerToken    int64   `json:"bytes_per_token"`
}

// Options sets how a run drives the generator.
type Options struct {
	Concurrency int
	// BytesPerToken and MaxPositions size the KV comparison.
	BytesPerToken int64
	MaxPositions  int
	// SampleEvery is the period of KV samples; 0 means 5ms.
	SampleEvery time.Duration
}

// clientStats is one request's timing.
type clientStats struct {
	prompt, generated int
	ttft, perToken    time.Duration
}

// Run sends reqs through gen from opts.Concurrency clients, each sending
// its next request when the previous one ends.
func Run(ctx context.Context, gen serving.Generator, reqs []serving.Request, opts Options) (Result, error) {
	if opts.Concurrency < 1 {
		return Result{}, fmt.Errorf("bench: concurrency %d must be positive", opts.Concurrency)
	}
	if opts.SampleEvery == 0 {
		opts.SampleEvery = 5 * time.Millisecond
	}
	before := gen.Metrics()
	var (
		next     atomic.Int64
		held     atomic.Int64 // tokens held by requests past their first token
		inFlight atomic.Int64 // requests submitted and not yet done
		started  atomic.Int64 // of those, the ones past their first token
		errMu    sync.Mutex
		firstErr error
	)
	stats := make([]clientStats, len(reqs))
	kv := newKVSampler(opts)
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(opts.SampleEvery)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				// Sample only with every client's request holding its
				// tokens, none queued or in prefill, and the engine
				// running just those (none finished before its client
				// has read the end).
				n := inFlight.Load()
				if n != int64(min(opts.Concurrency, len(reqs))) || started.Load() != n {
					continue
				}
				if m := gen.Metrics(); m.Running == int(n) && m.Waiting == 0 {
					kv.add(m.KVBytesUsed, held.Load())
				}
			}
		}
	}()
	start, cpuStart := time.Now(), cpuTime()
	var wg sync.WaitGroup
	for c := 0; c < opts.Concurrency; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(reqs) || ctx.Err() != nil {
					return
				}
				inFlight.Add(1)
				st, err := runOne(ctx, gen, reqs[i], &held, &started)
				inFlight.Add(-1)
				if err != nil {
					errMu.Lock()
					firstErr = cmpOr(firstErr, err)
					errMu.Unlock()
					return
				}
				stats[i] = st
			}
		}()
	}
	wg.Wait()
	secs, cpu := time.Since(start).Seconds(), cpuTime()-cpuStart
	close(stop)
	<-sampled
	if firstErr != nil {
		return Result{}, firstErr
	}
	after := gen.Metrics()
	r := summarize(stats, secs)
	r.Concurrency = opts.Concurrency
	r.CPUSeconds = cpu
	if cpu > 0 {
		r.TokensPerCPUSecond = float64(r.PromptTokens+r.GeneratedTokens) / cpu
	}
	r.KV = kv.result()
	r.Preemptions = after.Preemptions - before.Preemptions
	r.DraftTokens = after.DraftProposed - before.DraftProposed
	if r.DraftTokens > 0 {
		r.Acceptance = float64(after.Accepted-before.Accepted) / float64(r.DraftTokens)
	}
	return r, nil
}

// cpuTime is the user and system CPU seconds the process has used.
func cpuTime() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// runOne sends one request and times its events.
func runOne(ctx context.Context, gen serving.Generator, req serving.Request, held, started *atomic.Int64) (clientStats, error) {
	st := clientStats{prompt: len(req.Prompt)}
	sent := time.Now()
	ch, err := gen.Submit(ctx, req)
	if err != nil {
		return st, err
	}
	var first, last time.Time
	for ev := range ch {
		if ev.Done {
			if ev.Finish == serving.FinishError || ev.Finish == serving.FinishCancelled {
				return st, fmt.Errorf("bench: request ended with %s: %v", ev.Finish, ev.Err)
			}
			continue
		}
		last = time.Now()
		st.generated++
		// The cache holds the prompt and every token but the newest.
		if st.generated == 1 {
			first = last
			held.Add(int64(st.prompt))
			started.Add(1)
		} else {
			held.Add(1)
		}
	}
	if st.generated > 0 {
		held.Add(-int64(st.prompt + st.generated - 1))
		started.Add(-1)
		st.ttft = first.Sub(sent)
	}
	if st.generated > 1 {
		st.perToken = last.Sub(first) / time.Duration(st.generated-1)
	}
	return st, nil
}

func summarize(stats []clientStats, secs float64) Result {
	r := Result{Requests: len(stats), Seconds: secs}
	var ttft, perToken []float64
	var prefillRate float64
	for _, st := range stats {
		r.PromptTokens += st.prompt
		r.GeneratedTokens += st.generated
		if st.generated > 0 {
			ms := float64(st.ttft.Microseconds()) / 1000
			ttft = append(ttft, ms)
			prefillRate += float64(st.prompt) / st.ttft.Seconds()
		}
		if st.generated > 1 {
			perToken = append(perToken, float64(st.perToken.Microseconds())/1000)
		}
	}
	r.ThroughputTokensPerS = float64(r.PromptTokens+r.GeneratedTokens) / secs
	r.DecodeTokensPerS = float64(r.GeneratedTokens) / secs
	if len(ttft) > 0 {
		r.PrefillTokensPerS = prefillRate / float64(len(ttft))
	}
	r.TTFTms = percentiles(ttft)
	r.MsPerToken = percentiles(perToken)
	return r
}

// percentiles returns the 50th and 99th percentiles (nearest rank).
func percentiles(xs []float64) Percentiles {
	if len(xs) == 0 {
		return Percentiles{}
	}
	xs = slices.Clone(xs)
	slices.Sort(xs)
	rank := func(q float64) float64 {
		i := int(q*float64(len(xs))+0.999999) - 1
		return xs[max(0, min(i, len(xs)-1))]
	}
	return Percentiles{P50: rank(0.50), P99: rank(0.99)}
}

// kvSampler accumulates samples of cache use against tokens held.
type kvSampler struct {
	opts                Options
	n                   int
	used, peak, heldSum int64
}

func newKVSampler(opts Options) *kvSampler { return &kvSampler{opts: opts} }

func (k *kvSampler) add(used, heldTokens int64) {
	k.n++
	k.used += used
	k.peak = max(k.peak, used)
	k.heldSum += heldTokens
}

func (k *kvSampler) result() KVUse {
	u := KVUse{
		Samples:       k.n,
		PeakBytesUsed: k.peak,
		BytesPerToken: k.opts.BytesPerToken,
		PreallocBytes: int64(k.opts.Concurrency) * int64(k.opts.MaxPositions) * k.opts.BytesPerToken,
	}
	if k.n == 0 {
		return u
	}
	u.MeanBytesUsed = k.used / int64(k.n)
	u.MeanBytesHeld = k.heldSum / int64(k.n) * k.opts.BytesPerToken
	if u.MeanBytesHeld > 0 {
		u.UsedOverHeld = float64(u.MeanBytesUsed) / float64(u.MeanBytesHeld)
	}
	if u.PreallocBytes > 0 {
		u.UsedOverPrealloc = float64(u.MeanBytesUsed) / float64(u.PreallocBytes)
	}
	return u
}
