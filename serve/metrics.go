package serve

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/qtk-dev/qtk/serving"
)

// latencyBuckets are the upper bounds, in seconds, of the latency
// histograms.
var latencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}

// histogram counts observations into cumulative buckets, as Prometheus
// histograms do.
type histogram struct {
	counts []uint64 // per bucket of latencyBuckets, not cumulative
	inf    uint64   // observations above the last bound
	sum    float64
}

func (h *histogram) observe(v float64) {
	if h.counts == nil {
		h.counts = make([]uint64, len(latencyBuckets))
	}
	h.sum += v
	if i, _ := slices.BinarySearch(latencyBuckets, v); i < len(latencyBuckets) {
		h.counts[i]++
	} else {
		h.inf++
	}
}

// routeStatus keys the request counter.
type routeStatus struct {
	route string
	code  int
}

// httpMetrics are the server's own counters.
type httpMetrics struct {
	mu       sync.Mutex
	requests map[routeStatus]uint64
	latency  map[string]*histogram // per route
	ttft     histogram             // time to first token of generations
	inFlight int
}

func newHTTPMetrics() *httpMetrics {
	return &httpMetrics{requests: map[routeStatus]uint64{}, latency: map[string]*histogram{}}
}

func (m *httpMetrics) begin() {
	m.mu.Lock()
	m.inFlight++
	m.mu.Unlock()
}

func (m *httpMetrics) end(route string, code int, elapsed time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inFlight--
	m.requests[routeStatus{route, code}]++
	h := m.latency[route]
	if h == nil {
		h = &histogram{}
		m.latency[route] = h
	}
	h.observe(elapsed.Seconds())
}

func (m *httpMetrics) firstToken(elapsed time.Duration) {
	m.mu.Lock()
	m.ttft.observe(elapsed.Seconds())
	m.mu.Unlock()
}

// exposition writes Prometheus text format (version 0.0.4).
type exposition struct {
	w   io.Writer
	err error
}

func (e *exposition) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// metric writes the HELP and TYPE lines of a metric family.
func (e *exposition) metric(name, typ, help string) {
	e.printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func (e *exposition) sample(name, labels string, v float64) {
	if labels != "" {
		labels = "{" + labels + "}"
	}
	e.printf("%s%s %s\n", name, labels, formatValue(v))
}

func formatValue(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func (e *exposition) histogram(name, labels string, h *histogram) {
	sep := ""
	if labels != "" {
		sep = ","
	}
	var cum uint64
	for i, bound := range latencyBuckets {
		if h.counts != nil {
			cum += h.counts[i]
		}
		e.sample(name+"_bucket", fmt.Sprintf(`%s%sle="%s"`, labels, sep, formatValue(bound)), float64(cum))
	}
	cum += h.inf
	e.sample(name+"_bucket", fmt.Sprintf(`%s%sle="+Inf"`, labels, sep), float64(cum))
	e.sample(name+"_sum", labels, h.sum)
	e.sample(name+"_count", labels, float64(cum))
}

// writeMetrics writes the engine's snapshot and the HTTP metrics.
func writeMetrics(w io.Writer, engine serving.Metrics, m *httpMetrics) error {
	e := &exposition{w: w}
	gauges := []struct {
		name, help string
		v          float64
	}{
		{"qtk_sequences_running", "Sequences the engine is stepping.", float64(engine.Running)},
		{"qtk_sequences_waiting", "Sequences queued for admission.", float64(engine.Waiting)},
		{"qtk_kv_pages_used", "KV cache pages in use.", float64(engine.KVPagesUsed)},
		{"qtk_kv_pages_total", "KV cache pages in the memory budget.", float64(engine.KVPages)},
		{"qtk_kv_bytes_used", "Bytes of KV cache pages in use.", float64(engine.KVBytesUsed)},
		{"qtk_kv_bytes_total", "Bytes of the KV cache memory budget.", float64(engine.KVBytes)},
	}
	for _, g := range gauges {
		e.metric(g.name, "gauge", g.help)
		e.sample(g.name, "", g.v)
	}
	counters := []struct {
		name, help string
		v          uint64
	}{
		{"qtk_prompt_tokens_total", "Prompt tokens processed.", engine.PromptTokens},
		{"qtk_generation_tokens_total", "Tokens generated.", engine.GeneratedTokens},
		{"qtk_sequences_finished_total", "Sequences finished.", engine.RequestsFinished},
		{"qtk_preemptions_total", "Sequences evicted from the KV cache and recomputed.", engine.Preemptions},
		{"qtk_draft_tokens_proposed_total", "Speculative decoding: draft tokens proposed.", engine.DraftProposed},
		{"qtk_draft_tokens_accepted_total", "Speculative decoding: draft tokens accepted.", engine.Accepted},
	}
	for _, c := range counters {
		e.metric(c.name, "counter", c.help)
		e.sample(c.name, "", float64(c.v))
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	e.metric("qtk_http_requests_in_flight", "gauge", "HTTP requests being served.")
	e.sample("qtk_http_requests_in_flight", "", float64(m.inFlight))

	e.metric("qtk_http_requests_total", "counter", "HTTP requests served, by route and status code.")
	keys := make([]routeStatus, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b routeStatus) int {
		return cmp.Or(strings.Compare(a.route, b.route), cmp.Compare(a.code, b.code))
	})
	for _, k := range keys {
		e.sample("qtk_http_requests_total", fmt.Sprintf(`route="%s",code="%d"`, k.route, k.code), float64(m.requests[k]))
	}

	e.metric("qtk_http_request_duration_seconds", "histogram", "Time from request to the end of the response, by route.")
	routes := make([]string, 0, len(m.latency))
	for r := range m.latency {
		routes = append(routes, r)
	}
	slices.Sort(routes)
	for _, r := range routes {
		e.histogram("qtk_http_request_duration_seconds", fmt.Sprintf(`route="%s"`, r), m.latency[r])
	}

	e.metric("qtk_time_to_first_token_seconds", "histogram", "Time from request to the first generated token.")
	e.histogram("qtk_time_to_first_token_seconds", "", &m.ttft)
	return e.err
}
