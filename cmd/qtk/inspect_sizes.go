package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/qtk-dev/qtk/convert"
	"github.com/qtk-dev/qtk/model"
	"github.com/qtk-dev/qtk/sizing"
)

// sizeOptions are inspect's sizing flags.
type sizeOptions struct {
	batch, ctx, groupSize int
	kvDType               string
}

// sizesReport is the sizing section of qtk inspect.
type sizesReport struct {
	KVBytesPerToken    int64          `json:"kv_cache_bytes_per_token"`
	KVBytesPerTokenMHA int64          `json:"kv_cache_bytes_per_token_mha"`
	Serving            sizing.Serving `json:"serving"`
	Formats            []formatRow    `json:"formats"`
}

type formatRow struct {
	convert.FormatSize
	ServeBytes int64 `json:"serve_bytes,omitempty"`
}

func newSizesReport(cfg *model.Config, o sizeOptions) (*sizesReport, error) {
	kvBytes := sizing.DTypeBytes(o.kvDType)
	if kvBytes == 0 {
		return nil, fmt.Errorf("--kv-dtype %q: want f16, bf16 or f32", o.kvDType)
	}
	if o.batch < 1 || o.ctx < 0 {
		return nil, fmt.Errorf("--batch must be at least 1 and --ctx not negative")
	}
	ctx := o.ctx
	if ctx == 0 {
		ctx = cfg.MaxPositions
	}
	rep := &sizesReport{
		KVBytesPerToken:    sizing.KVBytesPerToken(cfg, cfg.NumKVHeads, kvBytes),
		KVBytesPerTokenMHA: sizing.KVBytesPerToken(cfg, cfg.NumHeads, kvBytes),
		Serving:            sizing.NewServing(cfg, o.batch, ctx, kvBytes),
	}
	for _, f := range convert.FormatSizes(cfg, o.groupSize) {
		row := formatRow{FormatSize: f}
		if f.Unavailable == "" {
			row.ServeBytes = rep.Serving.Total(f.Bytes)
		}
		rep.Formats = append(rep.Formats, row)
	}
	return rep, nil
}

func (r *sizesReport) print(w io.Writer) error {
	s := r.Serving
	attention := "multi-head attention"
	if r.KVBytesPerToken != r.KVBytesPerTokenMHA {
		attention = fmt.Sprintf("grouped-query attention; %s with multi-head", humanBytes(r.KVBytesPerTokenMHA))
	}
	fmt.Fprintf(w, "KV cache: %s per token at %d bytes a value (%s)\n", humanBytes(r.KVBytesPerToken), s.KVBytesPerValue, attention)
	fmt.Fprintf(w, "serving %d × %d tokens: KV cache %s (multi-head %s), activations %s (estimate)\n\n",
		s.Batch, s.Ctx, humanBytes(s.KVBytes), humanBytes(s.KVBytesMHA), humanBytes(s.ActivationBytes))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FORMAT\tWEIGHTS\tBITS/WEIGHT\tSERVE (weights + KV + activations)")
	for _, f := range r.Formats {
		if f.Unavailable != "" {
			fmt.Fprintf(tw, "%s\t-\t-\tunavailable: %s\n", f.Format, f.Unavailable)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%s\n", f.Format, humanBytes(f.Bytes), f.BitsPerWeight, humanBytes(f.ServeBytes))
	}
	return tw.Flush()
}

// humanBytes writes n in decimal units.
func humanBytes(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
