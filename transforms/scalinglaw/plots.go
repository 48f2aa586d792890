package scalinglaw

import (
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/conceptfreq/conceptfreq/internal/report"
)

// Figure is one plot written as SVG and PNG.
type Figure struct {
	Title   string
	Caption string
	Name    string   // file name without extension, under plots/
	Kind    string   // count kind of an accuracy figure ("" for long-tail figures)
	Prompt  string   // prompt set of an accuracy figure
	Fits    []string // IDs of the fits drawn
	PNG     []byte   // for embedding in the report
	Task    string   // TaskRetrieval for a retrieval figure ("" otherwise)
}

// Plot sizes.
const (
	plotW = 7 * vg.Inch
	plotH = 4.5 * vg.Inch
)

// HeadlineFigure is the file name (under plots/) of the study-layout figure.
const HeadlineFigure = "headline"

// Orders in which the report presents things: the study's.
var (
	kindOrder        = []string{"matched", "text", "image"}
	promptOrder      = []string{"class", "simple", "ensemble"}
	pretrainingOrder = []string{"cc3m", "cc12m", "yfcc15m", "laion400m", "synthci30m"}
)

// rank returns s's position in order, or len(order) for others.
func rank(order []string, s string) int {
	for i, o := range order {
		if o == s {
			return i
		}
	}
	return len(order)
}

// lessPretraining orders pretraining datasets as the study does, others
// after them by name.
func lessPretraining(a, b string) bool {
	ra, rb := rank(pretrainingOrder, a), rank(pretrainingOrder, b)
	if ra != rb {
		return ra < rb
	}
	return a < b
}

// modelColours gives every model one colour across all figures.
func modelColours(fits []*Fit) map[string]int {
	var models []string
	seen := map[string]bool{}
	for _, f := range fits {
		if !seen[f.Model] {
			seen[f.Model] = true
			models = append(models, f.Model)
		}
	}
	sort.Strings(models)
	out := map[string]int{}
	for i, m := range models {
		out[m] = i
	}
	return out
}

// accuracyPlot draws fits (one per model) as bin means with their fitted
// lines; bins outside the fit are hollow.
func accuracyPlot(title, kind string, fits []*Fit, colours map[string]int) (*plot.Plot, error) {
	return metricPlot(title, kind, "zero-shot accuracy (%)", fits, colours)
}

// metricPlot is accuracyPlot with the metric's axis label.
func metricPlot(title, kind, ylabel string, fits []*Fit, colours map[string]int) (*plot.Plot, error) {
	p := report.NewPlot(title, fmt.Sprintf("pretraining %s frequency (log scale)", kind), ylabel)
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = report.DecadeTicks{}
	sort.SliceStable(fits, func(i, j int) bool { return fits[i].Model < fits[j].Model })
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, f := range fits {
		c := report.Colour(colours[f.Model])
		used, unused := splitBins(f)
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, pt := range used {
			lo, hi = math.Min(lo, math.Log(pt.X)), math.Max(hi, math.Log(pt.X))
		}
		for _, pts := range []plotter.XYs{used, unused} {
			for _, pt := range pts {
				ymin, ymax = math.Min(ymin, pt.Y), math.Max(ymax, pt.Y)
			}
		}
		if len(used) == 0 || f.Err != "" || !finite(f.SlopePerDecade) || !finite(f.Intercept) {
			continue // a failed fit draws no line (its error is in the tables and the report)
		}
		sc, err := plotter.NewScatter(used)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: c, Shape: draw.CircleGlyph{}, Radius: vg.Points(3.2)}
		// The fitted line: metric = intercept + slope_ln · ln(count).
		slopeLn := f.SlopePerDecade / math.Ln10
		var line plotter.XYs
		for s := 0; s <= 20; s++ {
			x := lo + (hi-lo)*float64(s)/20
			line = append(line, plotter.XY{X: math.Exp(x), Y: f.Intercept + slopeLn*x})
		}
		ln, err := plotter.NewLine(line)
		if err != nil {
			return nil, err
		}
		ln.LineStyle.Color = c
		ln.LineStyle.Width = vg.Points(1.6)
		p.Add(sc, ln)
		if len(unused) > 0 {
			hollow, err := plotter.NewScatter(unused)
			if err != nil {
				return nil, err
			}
			hollow.GlyphStyle = draw.GlyphStyle{Color: c, Shape: draw.RingGlyph{}, Radius: vg.Points(3.2)}
			p.Add(hollow)
		}
		slope := fmt.Sprintf("%.1f", f.SlopePerDecade)
		if f.Task == TaskRetrieval {
			slope = fmt.Sprintf("%.3f", f.SlopePerDecade)
		}
		p.Legend.Add(fmt.Sprintf("%s  ρ=%.2f, slope %s per decade", f.Model, f.Rho, slope), sc, ln)
	}
	if ymax > ymin {
		// Headroom above the data for the legend, one line per series.
		p.Y.Min = ymin - 0.05*(ymax-ymin)
		p.Y.Max = ymax + (ymax-ymin)*(0.1+0.13*float64(len(fits)))
	}
	return p, nil
}

// finite reports whether v is neither NaN nor ±Inf.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// splitBins returns a fit's non-empty bins as (bin edge, mean) points:
// those in the fit, and those outside it (drawn hollow).
func splitBins(f *Fit) (used, unused plotter.XYs) {
	for _, b := range f.Bins {
		pt := plotter.XY{X: math.Exp(b.Hi), Y: b.Mean}
		if b.N == 0 || !finite(pt.X) || !finite(pt.Y) || pt.X <= 0 {
			continue // nothing to draw (the fit's error says why)
		}
		if b.Used {
			used = append(used, pt)
		} else {
			unused = append(unused, pt)
		}
	}
	return used, unused
}

// renderPlots draws the headline figure (one panel per pretraining
// dataset, the study's layout), one accuracy-vs-frequency figure per
// (pretraining, prompt, count kind) with one series per model, and one
// long-tail figure per count kind.
func renderPlots(out *Rendered, res *Results) ([]Figure, error) {
	colours := modelColours(res.Fits)
	groups := map[string][]*Fit{}
	var keys []string
	for _, f := range res.Fits {
		if f.Mode != ModePaperBins || f.Err != "" {
			continue
		}
		k := f.Pretraining + "_" + f.Prompt + "_" + f.Kind
		if f.Own() {
			k = f.Counts + "_" + k
		}
		if groups[k] == nil {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], f)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := groups[keys[i]][0], groups[keys[j]][0]
		if less, decided := fitGroupLess(a, b); decided {
			return less
		}
		return keys[i] < keys[j]
	})
	var figs []Figure
	if fig, err := renderHeadline(out, res, colours); err != nil {
		return nil, err
	} else if fig != nil {
		figs = append(figs, *fig)
	}
	for _, k := range keys {
		fits := groups[k]
		f0 := fits[0]
		title := fmt.Sprintf("%s: %s frequency, %s prompts", f0.Group(), f0.Kind, f0.Prompt)
		p, err := accuracyPlot(title, f0.Kind, fits, colours)
		if err != nil {
			return nil, err
		}
		fig := Figure{Title: title, Name: "accuracy_" + sanitize(k), Kind: f0.Kind, Prompt: f0.Prompt,
			Caption: fmt.Sprintf("Mean zero-shot accuracy per frequency bin of %s (filled: bins in the fit, hollow: bins outside it) and the fitted line, one colour per model.", f0.Group())}
		for _, f := range fits {
			fig.Fits = append(fig.Fits, f.ID())
		}
		if fig.PNG, err = save(out, p, fig.Name); err != nil {
			return nil, err
		}
		figs = append(figs, fig)
	}

	rfigs, err := renderRetrievalPlots(out, res)
	if err != nil {
		return nil, err
	}
	figs = append(figs, rfigs...)

	byKind := map[string][]LongTail{}
	var kinds []string
	for _, lt := range res.LongTail {
		if byKind[lt.Kind] == nil {
			kinds = append(kinds, lt.Kind)
		}
		byKind[lt.Kind] = append(byKind[lt.Kind], lt)
	}
	sort.Slice(kinds, func(i, j int) bool { return rank(kindOrder, kinds[i]) < rank(kindOrder, kinds[j]) })
	for _, kind := range kinds {
		p := report.NewPlot(fmt.Sprintf("Long tail of concept %s frequencies", kind), "normalised rank (rank / concepts)", "normalised frequency (count / max count)")
		p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
		p.X.Tick.Marker, p.Y.Tick.Marker = report.DecadeTicks{}, report.DecadeTicks{}
		p.Legend.Top, p.Legend.Left = false, true
		lts := byKind[kind]
		sort.SliceStable(lts, func(i, j int) bool { return lessPretraining(lts[i].Pretraining, lts[j].Pretraining) })
		ylo, xlo := 1.0, 1.0
		for i, lt := range lts {
			var pts plotter.XYs
			top := 0.0
			if len(lt.Sorted) > 0 {
				top = lt.Sorted[0]
			}
			for r, c := range lt.Sorted {
				if c > 0 && top > 0 {
					pts = append(pts, plotter.XY{X: float64(r+1) / float64(len(lt.Sorted)), Y: c / top})
					ylo, xlo = math.Min(ylo, c/top), math.Min(xlo, float64(r+1)/float64(len(lt.Sorted)))
				}
			}
			if len(pts) < 2 {
				continue
			}
			ln, err := plotter.NewLine(pts)
			if err != nil {
				return nil, err
			}
			ln.LineStyle.Color = report.Colour(i)
			ln.LineStyle.Width = vg.Points(1.6)
			p.Add(ln)
			label := lt.Pretraining
			if lt.FitErr == "" {
				label += fmt.Sprintf(" (Zipf α=%.2f, x_min=%g)", lt.Fit.Alpha, lt.Fit.XMin)
			}
			p.Legend.Add(label, ln)
		}
		report.LogRange(&p.X, xlo, 1)
		report.LogRange(&p.Y, ylo, 1)
		fig := Figure{Title: p.Title.Text, Name: "longtail_" + sanitize(kind),
			Caption: "Concepts ranked by frequency, both axes normalised and logarithmic: a straight line is a power law."}
		var err error
		if fig.PNG, err = save(out, p, fig.Name); err != nil {
			return nil, err
		}
		figs = append(figs, fig)
	}
	return figs, nil
}

// renderRetrievalPlots draws one figure per retrieval metric: recall per
// frequency bin with its fitted line, one series per model and pretraining.
func renderRetrievalPlots(out *Rendered, res *Results) ([]Figure, error) {
	byMetric := map[string][]*Fit{}
	ids := map[*Fit]string{}
	var metrics []string
	for _, f := range res.Retrieval {
		if f.Mode != ModePaperBins || f.Err != "" {
			continue
		}
		if byMetric[f.Metric] == nil {
			metrics = append(metrics, f.Metric)
		}
		g := *f
		g.Model = f.Model + " " + f.Pretraining // the series' label
		ids[&g] = f.ID()
		byMetric[f.Metric] = append(byMetric[f.Metric], &g)
	}
	var figs []Figure
	for _, m := range metrics {
		fits := byMetric[m]
		colours := modelColours(fits)
		title := fmt.Sprintf("Retrieval %s: COCO and Flickr concepts, %s frequency", m, fits[0].Kind)
		p, err := metricPlot(title, fits[0].Kind, m+" (fraction)", fits, colours)
		if err != nil {
			return nil, err
		}
		fig := Figure{Title: title, Name: "retrieval_" + sanitize(m), Kind: fits[0].Kind, Task: TaskRetrieval,
			Caption: fmt.Sprintf("Mean per-concept %s per frequency bin (the study's 7 bins; filled: bins in the fit) and the fitted line, one colour per model and pretraining.", m)}
		for _, f := range fits {
			fig.Fits = append(fig.Fits, ids[f])
		}
		if fig.PNG, err = save(out, p, fig.Name); err != nil {
			return nil, err
		}
		figs = append(figs, fig)
	}
	return figs, nil
}

// renderHeadline draws the study's layout: one panel per pretraining
// dataset, accuracy vs the headline frequency, one series per model.
func renderHeadline(out *Rendered, res *Results, colours map[string]int) (*Figure, error) {
	kind, prompt := headlineChoice(res)
	byPre := map[string][]*Fit{}
	var pres []string
	for _, f := range res.Fits {
		if f.Mode != ModePaperBins || f.Err != "" || f.Kind != kind || f.Prompt != prompt {
			continue
		}
		if byPre[f.Group()] == nil {
			pres = append(pres, f.Group())
		}
		byPre[f.Group()] = append(byPre[f.Group()], f)
	}
	if len(pres) == 0 {
		return nil, nil
	}
	sort.Slice(pres, func(i, j int) bool {
		oi, oj := byPre[pres[i]][0].Own(), byPre[pres[j]][0].Own()
		if oi != oj {
			return oi
		}
		return lessPretraining(pres[i], pres[j])
	})
	cols := min(len(pres), 3)
	rows := (len(pres) + cols - 1) / cols
	panel := [][]*plot.Plot{}
	fig := &Figure{Name: HeadlineFigure, Kind: kind, Prompt: prompt,
		Title: fmt.Sprintf("Zero-shot accuracy vs %s frequency (%s prompts), one panel per pretraining dataset", kind, prompt)}
	for r := 0; r < rows; r++ {
		row := make([]*plot.Plot, cols)
		for c := 0; c < cols; c++ {
			i := r*cols + c
			if i >= len(pres) {
				continue
			}
			p, err := accuracyPlot(pres[i], kind, byPre[pres[i]], colours)
			if err != nil {
				return nil, err
			}
			row[c] = p
			for _, f := range byPre[pres[i]] {
				fig.Fits = append(fig.Fits, f.ID())
			}
		}
		panel = append(panel, row)
	}
	w, h := vg.Length(cols)*5.2*vg.Inch, vg.Length(rows)*3.9*vg.Inch
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(8), PadY: vg.Points(8), PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(4)}
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(96))
	dc := draw.New(img)
	canvases := plot.Align(panel, tiles, dc)
	svgc := vgsvg.New(w, h)
	sdc := draw.New(svgc)
	svgCanvases := plot.Align(panel, tiles, sdc)
	for r := range panel {
		for c, p := range panel[r] {
			if p != nil {
				p.Draw(canvases[r][c])
				p.Draw(svgCanvases[r][c])
			}
		}
	}
	var pb, sb bytesBuffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&pb); err != nil {
		return nil, err
	}
	if _, err := svgc.WriteTo(&sb); err != nil {
		return nil, err
	}
	out.add(PlotsDir+"/"+HeadlineFigure+".png", pb.b)
	out.add(PlotsDir+"/"+HeadlineFigure+".svg", sb.b)
	fig.PNG = pb.b
	fig.Caption = "Each point is the mean accuracy of the concepts in one frequency bin (the study's procedure); lines are the log-linear fits, one colour per model, the same in every figure. Hollow points are bins outside the fit."
	return fig, nil
}

type bytesBuffer struct{ b []byte }

func (w *bytesBuffer) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

// save renders plots/name.svg and plots/name.png and returns the PNG bytes.
func save(out *Rendered, p *plot.Plot, name string) ([]byte, error) {
	png, svg, err := report.Render(p, plotW, plotH)
	if err != nil {
		return nil, fmt.Errorf("plot %s: %w", name, err)
	}
	out.add(PlotsDir+"/"+name+".svg", svg)
	out.add(PlotsDir+"/"+name+".png", png)
	return png, nil
}

// fitGroupLess orders fits by count kind, prompt set and pretraining
// dataset, the order of the report's and the plots' sections; decided is
// false when the three are equal.
func fitGroupLess(a, b *Fit) (less, decided bool) {
	if a.Own() != b.Own() {
		return a.Own(), true
	}
	if ra, rb := rank(kindOrder, a.Kind), rank(kindOrder, b.Kind); ra != rb {
		return ra < rb, true
	}
	if ra, rb := rank(promptOrder, a.Prompt), rank(promptOrder, b.Prompt); ra != rb {
		return ra < rb, true
	}
	if a.Pretraining != b.Pretraining {
		return lessPretraining(a.Pretraining, b.Pretraining), true
	}
	return false, false
}
