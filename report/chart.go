package report

import (
	"fmt"
	"image/color"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Chart size: 12×5 inches at 100 dots per inch.
const (
	ChartWidthPx  = 1200
	ChartHeightPx = 500
	chartDPI      = 100
)

// WriteChart draws a PNG of two panels: perplexity against bits per
// weight, one point per measured variant, and a bar of scoring tokens/s
// per variant.
func (r *Run) WriteChart(w io.Writer) error {
	var measured []Variant
	for _, v := range r.Variants {
		if v.Perplexity != nil {
			measured = append(measured, v)
		}
	}
	quality, err := qualityPlot(measured)
	if err != nil {
		return err
	}
	speed, err := speedPlot(measured)
	if err != nil {
		return err
	}
	img := vgimg.NewWith(
		vgimg.UseWH(vg.Length(ChartWidthPx)*vg.Inch/chartDPI, vg.Length(ChartHeightPx)*vg.Inch/chartDPI),
		vgimg.UseDPI(chartDPI),
		vgimg.UseBackgroundColor(color.White))
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Centimeter, PadTop: vg.Millimeter * 3, PadBottom: vg.Millimeter * 3, PadLeft: vg.Millimeter * 3, PadRight: vg.Millimeter * 5}
	plots := [][]*plot.Plot{{quality, speed}}
	canvases := plot.Align(plots, tiles, draw.New(img))
	quality.Draw(canvases[0][0])
	speed.Draw(canvases[0][1])
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(w); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return nil
}

// qualityPlot places each variant at (bits per weight, perplexity).
func qualityPlot(vs []Variant) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Perplexity against size"
	p.X.Label.Text = "bits per weight"
	p.Y.Label.Text = "perplexity (lower is better)"
	p.Add(plotter.NewGrid())
	if len(vs) == 0 {
		return p, nil
	}
	points := make(plotter.XYs, len(vs))
	labels := make([]string, len(vs))
	for i, v := range vs {
		points[i] = plotter.XY{X: v.BitsPerWeight, Y: v.Perplexity.PPL}
		labels[i] = v.Name
		if v.PPLDelta != nil {
			labels[i] += fmt.Sprintf(" (%+.2f%%)", 100**v.PPLDelta)
		}
	}
	for i := range vs {
		s, err := plotter.NewScatter(points[i : i+1])
		if err != nil {
			return nil, fmt.Errorf("chart: %w", err)
		}
		s.GlyphStyle.Color = plotutil.Color(i)
		s.GlyphStyle.Shape = draw.CircleGlyph{}
		s.GlyphStyle.Radius = vg.Points(4)
		p.Add(s)
	}
	names, err := plotter.NewLabels(plotter.XYLabels{XYs: points, Labels: labels})
	if err != nil {
		return nil, fmt.Errorf("chart: %w", err)
	}
	for i := range names.TextStyle {
		names.TextStyle[i].XAlign = draw.XLeft
	}
	names.Offset = vg.Point{X: vg.Points(6), Y: vg.Points(2)}
	p.Add(names)
	// Room for the labels right of the points and above the highest.
	p.X.Min, p.X.Max = 0, p.X.Max*1.35
	pad := (p.Y.Max - p.Y.Min) * 0.1
	if pad == 0 {
		pad = p.Y.Max * 0.01
	}
	p.Y.Min, p.Y.Max = p.Y.Min-pad, p.Y.Max+pad
	return p, nil
}

// speedPlot draws one bar of scoring tokens/s per variant.
func speedPlot(vs []Variant) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Scoring throughput"
	p.Y.Label.Text = "tokens/s"
	p.Add(plotter.NewGrid())
	if len(vs) == 0 {
		return p, nil
	}
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = v.Name
		bar, err := plotter.NewBarChart(plotter.Values{v.Perplexity.TokensPerSecond}, vg.Points(36))
		if err != nil {
			return nil, fmt.Errorf("chart: %w", err)
		}
		bar.Color = plotutil.Color(i)
		bar.LineStyle.Width = 0
		bar.XMin = float64(i)
		p.Add(bar)
	}
	p.NominalX(names...)
	// Half a slot of room beside the outer bars, a tenth above the highest.
	p.X.Min, p.X.Max = -0.5, float64(len(vs))-0.5
	p.Y.Min, p.Y.Max = 0, p.Y.Max*1.1
	return p, nil
}
