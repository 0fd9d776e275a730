package report

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qtk-dev/qtk/eval"
	"github.com/qtk-dev/qtk/gate"
	"github.com/qtk-dev/qtk/model"
)

var tinyLlama = filepath.Join("..", "testdata", "models", "tiny-llama")

// sampleRun is a base and two candidates, one 3% worse than the base.
func sampleRun(maxDelta float64) *Run {
	r := New("eval ppl")
	r.Eval = &EvalSettings{Data: "/data/wiki.test.raw", Protocol: eval.ProtocolHF, Ctx: 512}
	for _, v := range []struct {
		name, format string
		size         int64
		bpw, ppl     float64
		tps          float64
	}{
		{"small-llama", "fp16", 50_000_000, 16, 100, 4000},
		{"small-rtn", "gptq int4 g128", 31_000_000, 9.9, 103, 3500},
		{"small-gptq", "gptq int4 g128", 31_000_000, 9.9, 100.5, 3400},
	} {
		r.Variants = append(r.Variants, Variant{Name: v.name, Path: "/m/" + v.name, Format: v.format, SizeBytes: v.size,
			Parameters: 25_000_000, BitsPerWeight: v.bpw,
			Perplexity: &eval.Result{Protocol: eval.ProtocolHF, Ctx: 512, PPL: v.ppl, TokensPerSecond: v.tps}})
	}
	r.Compare(0, maxDelta)
	return r
}

func TestCompareGates(t *testing.T) {
	tests := []struct {
		name     string
		maxDelta float64
		gates    int
		passed   bool
		failed   string
	}{
		{"no gate", -1, 0, true, ""},
		{"both within 5%", 0.05, 2, true, ""},
		{"rtn over 1%", 0.01, 2, false, "small-rtn"},
		{"both over 0.1%", 0.001, 2, false, "small-rtn: perplexity rose 3.00%, more than the allowed 0.10%; small-gptq"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sampleRun(tt.maxDelta)
			if len(r.Gates) != tt.gates || r.Passed != tt.passed {
				t.Fatalf("%d gates, passed %v", len(r.Gates), r.Passed)
			}
			err := r.Err()
			if (err == nil) != tt.passed || (err != nil && (!gate.IsFailure(err) || !strings.Contains(err.Error(), tt.failed))) {
				t.Fatalf("error %v", err)
			}
			if r.Variants[0].PPLDelta != nil || *r.Variants[1].PPLDelta < 0.0299 || *r.Variants[1].PPLDelta > 0.0301 {
				t.Fatalf("deltas %v %v", r.Variants[0].PPLDelta, r.Variants[1].PPLDelta)
			}
		})
	}
}

func TestWriteDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "report")
	r := sampleRun(0.01)
	if err := r.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Fatalf("%d files in %s, want report.json, report.md, chart.png only", len(entries), dir)
	}

	data, err := os.ReadFile(filepath.Join(dir, JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		SchemaVersion int    `json:"schema_version"`
		Command       string `json:"command"`
		Base          string `json:"base"`
		Passed        *bool  `json:"passed"`
		Variants      []struct {
			Name          string   `json:"name"`
			BitsPerWeight float64  `json:"bits_per_weight"`
			PPLDelta      *float64 `json:"ppl_delta"`
			Perplexity    struct {
				PPL float64 `json:"ppl"`
			} `json:"perplexity"`
		} `json:"variants"`
		Gates []gate.Check `json:"gates"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SchemaVersion != SchemaVersion || doc.Command != "eval ppl" || doc.Base != "small-llama" ||
		doc.Passed == nil || *doc.Passed || len(doc.Variants) != 3 || len(doc.Gates) != 2 {
		t.Fatalf("report.json %s", data)
	}
	if v := doc.Variants[1]; v.Name != "small-rtn" || v.Perplexity.PPL != 103 || v.PPLDelta == nil || v.BitsPerWeight != 9.9 {
		t.Fatalf("variant %+v", v)
	}

	md, err := os.ReadFile(filepath.Join(dir, MarkdownFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| model | format | size on disk | bits/weight | perplexity | Δ vs base | tokens/s |",
		"| small-llama (base) | fp16 | 50.0 MB | 16.00 | 100.00 | – | 4000 |",
		"| small-rtn | gptq int4 g128 | 31.0 MB | 9.90 | 103.00 | +3.00% | 3500 |",
		"| small-gptq | gptq int4 g128 | 31.0 MB | 9.90 | 100.50 | +0.50% | 3400 |",
		"- ❌ FAIL small-rtn: perplexity +3.00% (limit +1.00%)",
		"- ✅ pass small-gptq: perplexity +0.50% (limit +1.00%)",
		"`wiki.test.raw`: hf protocol, 512-token windows",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}

	f, err := os.Open(filepath.Join(dir, ChartFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != ChartWidthPx || b.Dy() != ChartHeightPx {
		t.Fatalf("chart is %v, want %d×%d", b, ChartWidthPx, ChartHeightPx)
	}
	if out := os.Getenv("QTK_REPORT_SAMPLE"); out != "" {
		os.WriteFile(out, mustChart(t, r), 0o644)
	}
}

func mustChart(t *testing.T, r *Run) []byte {
	var buf bytes.Buffer
	if err := r.WriteChart(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestChartWithoutMeasurements(t *testing.T) {
	r := New("convert")
	r.Variants = append(r.Variants, Variant{Name: "model.gguf", Format: "gguf q4_0", BitsPerWeight: 4.5})
	if _, err := png.Decode(bytes.NewReader(mustChart(t, r))); err != nil {
		t.Fatal(err)
	}
}

func TestWriteDirOntoAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "taken")
	os.WriteFile(file, nil, 0o644)
	if err := sampleRun(-1).WriteDir(file); err == nil {
		t.Fatal("wrote a report into a regular file")
	}
}

func TestDescribe(t *testing.T) {
	ck, err := model.Open(tinyLlama)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	v, err := Describe(ck)
	if err != nil {
		t.Fatal(err)
	}
	var size, weights int64
	entries, _ := os.ReadDir(tinyLlama)
	for _, e := range entries {
		info, _ := e.Info()
		size += info.Size()
		if strings.HasSuffix(e.Name(), ".safetensors") {
			weights += info.Size()
		}
	}
	want := 8 * float64(weights) / float64(ck.Config.ParamCount())
	if v.Name != "tiny-llama" || v.SizeBytes != size || v.BitsPerWeight != want || v.Parameters != ck.Config.ParamCount() {
		t.Fatalf("variant %+v, want size %d, bits per weight %g", v, size, want)
	}
	if v.BitsPerWeight < 15 || v.BitsPerWeight > 17.5 {
		t.Fatalf("a 16-bit checkpoint at %.2f bits per weight", v.BitsPerWeight)
	}
}

func TestUniqueNames(t *testing.T) {
	vs := []Variant{{Name: "model", Path: "a/model"}, {Name: "model", Path: "b/model"}, {Name: "other", Path: "c/other"}}
	UniqueNames(vs)
	if vs[0].Name != "a/model" || vs[1].Name != "b/model" || vs[2].Name != "other" {
		t.Fatalf("names %v", vs)
	}
}
