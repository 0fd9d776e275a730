package serve

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/qtk-dev/qtk/serving"
)

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*",?)*\})? (\S+)$`)
	typeLine   = regexp.MustCompile(`^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$`)
	helpLine   = regexp.MustCompile(`^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*$`)
	leLabel    = regexp.MustCompile(`le="([^"]+)"`)
)

// checkExposition validates Prometheus text format: every sample belongs to
// the family whose TYPE came last (with _bucket/_sum/_count for
// histograms), values parse, and histogram buckets are cumulative, end in
// +Inf and agree with _count. It returns the samples by name and labels.
func checkExposition(t *testing.T, text string) map[string]float64 {
	t.Helper()
	samples := map[string]float64{}
	family, typ := "", ""
	var lastBucket float64
	lastLE := ""
	for n, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if m := typeLine.FindStringSubmatch(line); m != nil {
			family, typ = m[1], m[2]
			continue
		}
		if helpLine.MatchString(line) {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("line %d %q is not a sample", n+1, line)
		}
		name, labels := m[1], m[2]
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("line %d: value %q", n+1, m[3])
		}
		suffix, ok := strings.CutPrefix(name, family)
		switch {
		case !ok || typ != "histogram" && suffix != "" ||
			typ == "histogram" && suffix != "_bucket" && suffix != "_sum" && suffix != "_count":
			t.Fatalf("line %d: sample %s outside its family %s (%s)", n+1, name, family, typ)
		case suffix == "_bucket":
			if v < lastBucket {
				t.Errorf("line %d: buckets not cumulative", n+1)
			}
			lastBucket = v
			if le := leLabel.FindStringSubmatch(labels); le != nil {
				lastLE = le[1]
			}
		case suffix == "_count":
			if lastLE != "+Inf" || v != lastBucket {
				t.Errorf("line %d: _count %v, last bucket le=%q holds %v", n+1, v, lastLE, lastBucket)
			}
			lastBucket, lastLE = 0, ""
		}
		samples[name+labels] = v
	}
	return samples
}

func TestMetrics(t *testing.T) {
	gen := newFakeGenerator([]int{5, 6})
	gen.metrics = serving.Metrics{Running: 3, Waiting: 2, KVPagesUsed: 7, KVPages: 100, KVBytesUsed: 7 << 20, KVBytes: 100 << 20,
		PromptTokens: 1234, GeneratedTokens: 567, RequestsFinished: 8, Preemptions: 1, DraftProposed: 40, Accepted: 30}
	h := newTestHandler(t, gen, nil)
	post(t, h, "/v1/completions", `{"prompt": "x", "max_tokens": 2}`)
	post(t, h, "/v1/completions", `{"prompt": "x", "max_tokens": 2}`)
	post(t, h, "/v1/completions", `{"prompt": "x", "max_tokens": 0}`)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	samples := checkExposition(t, rec.Body.String())
	want := map[string]float64{
		"qtk_sequences_running":           3,
		"qtk_sequences_waiting":           2,
		"qtk_kv_pages_used":               7,
		"qtk_kv_pages_total":              100,
		"qtk_kv_bytes_used":               7 << 20,
		"qtk_kv_bytes_total":              100 << 20,
		"qtk_prompt_tokens_total":         1234,
		"qtk_generation_tokens_total":     567,
		"qtk_sequences_finished_total":    8,
		"qtk_preemptions_total":           1,
		"qtk_draft_tokens_proposed_total": 40,
		"qtk_draft_tokens_accepted_total": 30,
		`qtk_http_requests_total{route="/v1/completions",code="200"}`:                 2,
		`qtk_http_requests_total{route="/v1/completions",code="400"}`:                 1,
		`qtk_http_request_duration_seconds_count{route="/v1/completions"}`:            3,
		`qtk_http_request_duration_seconds_bucket{route="/v1/completions",le="+Inf"}`: 3,
		"qtk_time_to_first_token_seconds_count":                                       2,
		// The /metrics request itself is in flight while it is written.
		"qtk_http_requests_in_flight": 1,
	}
	for k, v := range want {
		if got, ok := samples[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
}

func TestHistogramBuckets(t *testing.T) {
	var h histogram
	for _, v := range []float64{0.001, 0.005, 0.3, 1000} {
		h.observe(v)
	}
	var b strings.Builder
	e := &exposition{w: &b}
	e.histogram("x", "", &h)
	text := b.String()
	for _, want := range []string{`x_bucket{le="0.005"} 2`, `x_bucket{le="0.25"} 2`, `x_bucket{le="0.5"} 3`, `x_bucket{le="120"} 3`, `x_bucket{le="+Inf"} 4`, "x_count 4", fmt.Sprintf("x_sum %v", 0.001+0.005+0.3+1000)} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
}
