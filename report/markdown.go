package report

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/qtk-dev/qtk/gate"
)

// WriteMarkdown writes the run as a Markdown table, fit for a CI job
// summary: one row per variant, then the gates.
func (r *Run) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## qtk %s\n\n", r.Command)
	if e := r.Eval; e != nil {
		fmt.Fprintf(&b, "Perplexity of `%s`: %s protocol, %d-token windows", filepath.Base(e.Data), e.Protocol, e.Ctx)
		if e.MaxWindows > 0 {
			fmt.Fprintf(&b, ", at most %d windows", e.MaxWindows)
		}
		b.WriteString(". Tokens/s is the scoring throughput of that run.\n\n")
	}
	b.WriteString("| model | format | size on disk | bits/weight | perplexity | Δ vs base | tokens/s |\n")
	b.WriteString("| --- | --- | ---: | ---: | ---: | ---: | ---: |\n")
	for _, v := range r.Variants {
		name := v.Name
		if v.Name == r.Base {
			name += " (base)"
		}
		ppl, tps, delta := "–", "–", "–"
		if p := v.Perplexity; p != nil {
			ppl = fmt.Sprintf("%.2f", p.PPL)
			tps = fmt.Sprintf("%.0f", p.TokensPerSecond)
		}
		if v.PPLDelta != nil {
			delta = fmt.Sprintf("%+.2f%%", 100**v.PPLDelta)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %.2f | %s | %s | %s |\n",
			escapeCell(name), escapeCell(v.Format), megabytes(v.SizeBytes), v.BitsPerWeight, ppl, delta, tps)
	}
	if len(r.Gates) > 0 {
		b.WriteString("\n")
		for _, c := range r.Gates {
			mark := "✅ pass"
			if !c.Passed {
				mark = "❌ FAIL"
			}
			fmt.Fprintf(&b, "- %s %s\n", mark, gateLine(c))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// gateLine states one check in words.
func gateLine(c gate.Check) string {
	switch c.Metric {
	case gate.MetricPPLDelta:
		return fmt.Sprintf("%s: perplexity %+.2f%% (limit +%.2f%%)", escapeCell(c.Variant), 100*c.Value, 100*c.Limit)
	case gate.MetricTokensPerSecond:
		return fmt.Sprintf("%s: %.1f tokens/s (at least %.1f)", escapeCell(c.Variant), c.Value, c.Limit)
	}
	return fmt.Sprintf("%s: %s %g (limit %g)", escapeCell(c.Variant), c.Metric, c.Value, c.Limit)
}

func megabytes(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// escapeCell keeps a name from breaking the table.
func escapeCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
