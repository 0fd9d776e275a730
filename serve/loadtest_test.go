package serve

import (
	"context"
	"encoding/json"
	"flag"
	"testing"
	"time"

	"github.com/qtk-dev/qtk/serving"
)

// TestLoadTest runs the load test against the handler over a fake engine:
// 64 streaming clients, 256 requests.
func TestLoadTest(t *testing.T) {
	tok := testTokenizer(t)
	gen := newFakeGenerator(tok.Encode(" the quick brown fox jumps over the lazy dog", false))
	gen.delay = time.Millisecond
	h := newTestHandler(t, gen, nil)
	report, err := LoadTestHandler(context.Background(), h, LoadOptions{
		Clients: 64, Requests: 256, Duration: 30 * time.Second,
		Prompt: "Once upon a time", MinTokens: 4, MaxTokens: 24,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !report.OK() {
		t.Fatalf("load test failed: %+v", report)
	}
	t.Logf("%d requests in %.2fs: %.0f req/s, %.0f tokens/s, TTFT p50 %.1fms p99 %.1fms",
		report.Succeeded, report.Seconds, report.RequestsPerSecond, report.TokensPerSecond, report.TimeToFirstToken.P50, report.TimeToFirstToken.P99)
}

// TestLoadTestDetectsFailures: a server that loses tokens, or that does not
// finish in time, fails the load test.
func TestLoadTestDetectsFailures(t *testing.T) {
	cases := []struct {
		name  string
		setup func(g *fakeGenerator)
		opts  LoadOptions
		check func(r *LoadReport) bool
	}{
		{"stops early", func(g *fakeGenerator) { g.script = []int{5, testEOS} },
			LoadOptions{Clients: 4, Requests: 8, Duration: 10 * time.Second, Prompt: "x", MinTokens: 4, MaxTokens: 4},
			func(r *LoadReport) bool { return r.Failed == 8 }},
		{"too slow", func(g *fakeGenerator) { g.block = true },
			LoadOptions{Clients: 4, Requests: 8, Duration: 200 * time.Millisecond, Prompt: "x", MinTokens: 4, MaxTokens: 4},
			func(r *LoadReport) bool { return r.Lost == 8 }},
		{"KV over budget", func(g *fakeGenerator) { g.metrics.KVBytesUsed, g.metrics.KVBytes = 2, 1 },
			LoadOptions{Clients: 4, Requests: 8, Duration: 10 * time.Second, Prompt: "x", MinTokens: 2, MaxTokens: 2},
			func(r *LoadReport) bool { return r.Succeeded == 8 && r.PeakKVBytesUsed == 2 }},
	}
	for _, c := range cases {
		gen := newFakeGenerator([]int{5})
		c.setup(gen)
		// The load test sends ignore_eos; this handler's engine still stops
		// at EOS, as a broken engine would.
		report, err := LoadTestHandler(context.Background(), newTestHandler(t, stopAtEOS{gen}, nil), c.opts)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if report.OK() || !c.check(report) {
			t.Errorf("%s: report %+v", c.name, report)
		}
	}
}

// stopAtEOS is a broken engine: it ends sequences at EOS even when the
// request asks it to ignore EOS.
type stopAtEOS struct{ *fakeGenerator }

func (g stopAtEOS) Submit(ctx context.Context, req serving.Request) (<-chan serving.Event, error) {
	req.Stop = append(req.Stop, testEOS)
	return g.fakeGenerator.Submit(ctx, req)
}

// Flags of TestLoadServer, which load-tests a server already running, e.g.
//
//	go test ./serve -run TestLoadServer -v -serve.url http://127.0.0.1:8080
var (
	loadURL       = flag.String("serve.url", "", "base URL of the server TestLoadServer loads")
	loadClients   = flag.Int("serve.clients", 64, "concurrent streaming clients")
	loadRequests  = flag.Int("serve.requests", 256, "requests in all")
	loadDuration  = flag.Duration("serve.duration", 10*time.Minute, "time limit of the whole run")
	loadMinTokens = flag.Int("serve.min-tokens", 16, "fewest tokens a request asks for")
	loadMaxTokens = flag.Int("serve.max-tokens", 128, "most tokens a request asks for")
	loadPrompt    = flag.String("serve.prompt", "The history of the city begins", "prompt of every request")
)

// TestLoadServer load-tests the server at -serve.url; without it, it skips.
func TestLoadServer(t *testing.T) {
	if *loadURL == "" {
		t.Skip("no -serve.url")
	}
	report, err := LoadTest(context.Background(), LoadOptions{
		URL: *loadURL, Clients: *loadClients, Requests: *loadRequests, Duration: *loadDuration,
		Prompt: *loadPrompt, MinTokens: *loadMinTokens, MaxTokens: *loadMaxTokens,
	})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.MarshalIndent(report, "", "  ")
	t.Logf("%s", out)
	if !report.OK() {
		t.Fatal("load test failed")
	}
}
