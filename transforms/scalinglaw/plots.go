package scalinglaw

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Figure is one plot written as SVG and PNG.
type Figure struct {
	Title string
	Name  string   // file name without extension, under plots/
	Fits  []string // IDs of the fits drawn
	PNG   []byte   // for embedding in the report
}

// Plot sizes.
const (
	plotW = 7 * vg.Inch
	plotH = 4.5 * vg.Inch
)

// renderPlots draws one accuracy-vs-frequency figure per (pretraining,
// prompt, count kind) with one series per model (the study's figures), and
// one long-tail figure per count kind.
func renderPlots(out *Rendered, res *Results) ([]Figure, error) {
	groups := map[string][]*Fit{}
	var keys []string
	for _, f := range res.Fits {
		if f.Mode != ModePaperBins || f.Err != "" {
			continue
		}
		k := f.Pretraining + "_" + f.Prompt + "_" + f.Kind
		if groups[k] == nil {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], f)
	}
	sort.Strings(keys)
	var figs []Figure
	for _, k := range keys {
		fits := groups[k]
		f0 := fits[0]
		p := plot.New()
		p.Title.Text = fmt.Sprintf("%s — %s prompts, %s frequency (study's binned fit)", f0.Pretraining, f0.Prompt, f0.Kind)
		p.X.Label.Text = fmt.Sprintf("pretraining %s frequency (log scale)", f0.Kind)
		p.Y.Label.Text = "zero-shot accuracy (%)"
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = decadeTicks{}
		p.Legend.Top = true
		p.Legend.Left = true
		fig := Figure{Title: p.Title.Text, Name: "accuracy_" + sanitize(k)}
		for i, f := range fits {
			var pts plotter.XYs
			var lo, hi float64 = math.Inf(1), math.Inf(-1)
			for _, b := range f.Bins {
				if b.N == 0 || !b.Used {
					continue
				}
				pts = append(pts, plotter.XY{X: math.Exp(b.Hi), Y: b.Mean})
				lo, hi = math.Min(lo, b.Hi), math.Max(hi, b.Hi)
			}
			if len(pts) == 0 {
				continue
			}
			sc, err := plotter.NewScatter(pts)
			if err != nil {
				return nil, err
			}
			sc.GlyphStyle.Color = plotutil.Color(i)
			sc.GlyphStyle.Shape = plotutil.Shape(i)
			sc.GlyphStyle.Radius = vg.Points(3)
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
			ln.LineStyle.Color = plotutil.Color(i)
			ln.LineStyle.Width = vg.Points(1.5)
			p.Add(sc, ln)
			p.Legend.Add(fmt.Sprintf("%s (ρ=%.2f)", f.Model, f.Rho), sc, ln)
			fig.Fits = append(fig.Fits, f.ID())
		}
		png, err := save(out, p, fig.Name)
		if err != nil {
			return nil, err
		}
		fig.PNG = png
		figs = append(figs, fig)
	}

	byKind := map[string][]LongTail{}
	var kinds []string
	for _, lt := range res.LongTail {
		if byKind[lt.Kind] == nil {
			kinds = append(kinds, lt.Kind)
		}
		byKind[lt.Kind] = append(byKind[lt.Kind], lt)
	}
	sort.Strings(kinds)
	for _, kind := range kinds {
		p := plot.New()
		p.Title.Text = fmt.Sprintf("Long tail of concept %s frequencies", kind)
		p.X.Label.Text = "normalised rank (rank / concepts)"
		p.Y.Label.Text = "normalised frequency (count / max count)"
		p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
		p.X.Tick.Marker, p.Y.Tick.Marker = decadeTicks{}, decadeTicks{}
		p.Legend.Left = true
		for i, lt := range byKind[kind] {
			var pts plotter.XYs
			top := 0.0
			if len(lt.Sorted) > 0 {
				top = lt.Sorted[0]
			}
			for r, c := range lt.Sorted {
				if c > 0 && top > 0 {
					pts = append(pts, plotter.XY{X: float64(r+1) / float64(len(lt.Sorted)), Y: c / top})
				}
			}
			if len(pts) < 2 {
				continue
			}
			ln, err := plotter.NewLine(pts)
			if err != nil {
				return nil, err
			}
			ln.LineStyle.Color = plotutil.Color(i)
			ln.LineStyle.Width = vg.Points(1.5)
			p.Add(ln)
			label := lt.Pretraining
			if lt.FitErr == "" {
				label += fmt.Sprintf(" (Zipf α=%.2f, x_min=%g)", lt.Fit.Alpha, lt.Fit.XMin)
			}
			p.Legend.Add(label, ln)
		}
		fig := Figure{Title: p.Title.Text, Name: "longtail_" + sanitize(kind)}
		png, err := save(out, p, fig.Name)
		if err != nil {
			return nil, err
		}
		fig.PNG = png
		figs = append(figs, fig)
	}
	return figs, nil
}

// save renders plots/name.svg and plots/name.png and returns the PNG bytes.
func save(out *Rendered, p *plot.Plot, name string) ([]byte, error) {
	var png []byte
	for _, format := range []string{"svg", "png"} {
		wt, err := p.WriterTo(plotW, plotH, format)
		if err != nil {
			return nil, fmt.Errorf("plot %s: %w", name, err)
		}
		var b bytes.Buffer
		if _, err := wt.WriteTo(&b); err != nil {
			return nil, fmt.Errorf("plot %s: %w", name, err)
		}
		out.add(PlotsDir+"/"+name+"."+format, b.Bytes())
		if format == "png" {
			png = b.Bytes()
		}
	}
	return png, nil
}

// decadeTicks labels powers of ten exactly (plot.LogTicks prints rounding
// noise such as 9.999999e-05 for computed powers).
type decadeTicks struct{}

func (decadeTicks) Ticks(min, max float64) []plot.Tick {
	var ticks []plot.Tick
	lo, hi := int(math.Floor(math.Log10(min))), int(math.Ceil(math.Log10(max)))
	for k := lo; k <= hi; k++ {
		v := math.Pow10(k)
		if v >= min*(1-1e-9) && v <= max*(1+1e-9) {
			ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
		}
		for m := 2; m < 10; m++ {
			if mv := float64(m) * v; mv >= min && mv <= max {
				ticks = append(ticks, plot.Tick{Value: mv})
			}
		}
	}
	return ticks
}
