// Package report holds what conceptfreq's HTML reports share: the plot
// style (sans-serif text, a colour-blind-safe palette, readable ticks),
// PNG/SVG rendering, number formatting, and the page's CSS and the plain
// JavaScript that makes tables sortable and filterable (no network).
package report

import (
	"bytes"
	"fmt"
	"github.com/conceptfreq/conceptfreq/io/reject"
	"image/color"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

func init() {
	// Sans-serif text in every plot.
	plot.DefaultFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
	plotter.DefaultFont = plot.DefaultFont
}

// palette is Okabe and Ito's colour-blind-safe palette.
var palette = []color.RGBA{
	{0, 114, 178, 255},   // blue
	{213, 94, 0, 255},    // vermillion
	{0, 158, 115, 255},   // bluish green
	{204, 121, 167, 255}, // reddish purple
	{230, 159, 0, 255},   // orange
	{86, 180, 233, 255},  // sky blue
	{240, 228, 66, 255},  // yellow
	{0, 0, 0, 255},       // black
}

// Colour is the i-th colour of the palette (cycling).
func Colour(i int) color.Color { return palette[((i%len(palette))+len(palette))%len(palette)] }

// Grey is for points drawn but not fitted.
var Grey = color.RGBA{160, 160, 160, 255}

// NewPlot returns a plot in the reports' style: legend inside the data area
// at the top left, below the title.
func NewPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.XOffs = vg.Points(6)
	p.Legend.YOffs = -vg.Points(6)
	p.Y.Tick.Marker = LinearTicks{N: 6}
	return p
}

// LogRange sets a log axis to cover [lo, hi] with some margin, so that
// degenerate data (all values equal, e.g. every count 1) never gives the
// axis a non-positive end.
func LogRange(a *plot.Axis, lo, hi float64) {
	if !(lo > 0) || !(hi >= lo) {
		return
	}
	a.Min, a.Max = lo/1.5, hi*1.5
}

// Render draws p as PNG and SVG of the given size.
func Render(p *plot.Plot, w, h vg.Length) (png, svg []byte, err error) {
	for _, format := range []string{"png", "svg"} {
		wt, err := p.WriterTo(w, h, format)
		if err != nil {
			return nil, nil, err
		}
		var b bytes.Buffer
		if _, err := wt.WriteTo(&b); err != nil {
			return nil, nil, err
		}
		if format == "png" {
			png = b.Bytes()
		} else {
			svg = b.Bytes()
		}
	}
	return png, svg, nil
}

// LinearTicks labels about N round values across the axis.
type LinearTicks struct{ N int }

// Ticks implements plot.Ticker.
func (t LinearTicks) Ticks(min, max float64) []plot.Tick {
	n := t.N
	if n < 2 {
		n = 5
	}
	if !(max > min) {
		return []plot.Tick{{Value: min, Label: strconv.FormatFloat(min, 'g', 4, 64)}}
	}
	// The largest round step (1, 2, 2.5, 5 × 10^k) giving 4 to n+1
	// labelled ticks.
	raw := (max - min) / float64(n-1)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := raw
	for _, e := range []float64{mag * 10, mag, mag / 10} {
		found := false
		for _, m := range []float64{5, 2.5, 2, 1} {
			st := m * e
			labels := math.Floor(max/st+1e-9) - math.Ceil(min/st-1e-9) + 1
			if labels >= 4 && labels <= float64(n+1) {
				step, found = st, true
				break
			}
		}
		if found {
			break
		}
	}
	var ticks []plot.Tick
	for v := math.Ceil(min/step) * step; v <= max+step*1e-9; v += step {
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', decimals(step), 64)})
		for k := 1; k < 5; k++ { // unlabelled minor ticks
			if m := v + step*float64(k)/5; m <= max {
				ticks = append(ticks, plot.Tick{Value: m})
			}
		}
	}
	return ticks
}

func decimals(step float64) int {
	d := 0
	for step < 1 && d < 6 {
		step *= 10
		d++
	}
	if s := strconv.FormatFloat(step, 'f', -1, 64); strings.Contains(s, ".") {
		d++
	}
	return d
}

// DecadeTicks labels powers of ten on a log axis (plot.LogTicks prints
// rounding noise such as 9.999999e-05 for computed powers).
type DecadeTicks struct{}

// Ticks implements plot.Ticker.
func (DecadeTicks) Ticks(min, max float64) []plot.Tick {
	if min <= 0 || max <= 0 {
		return nil
	}
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(min)); e <= math.Ceil(math.Log10(max)); e++ {
		v := math.Pow(10, e)
		if v >= min*(1-1e-9) && v <= max*(1+1e-9) {
			ticks = append(ticks, plot.Tick{Value: v, Label: "1e" + strconv.Itoa(int(e))})
		}
		for k := 2; k < 10; k++ {
			if m := v * float64(k); m >= min && m <= max {
				ticks = append(ticks, plot.Tick{Value: m})
			}
		}
	}
	return ticks
}

// Num formats a float for a table: blank for NaN, ±Inf spelled out, 3
// significant decimals otherwise.
func Num(v float64) string {
	switch {
	case math.IsNaN(v):
		return ""
	case math.IsInf(v, 1):
		return "∞"
	case math.IsInf(v, -1):
		return "−∞"
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

// PValue formats a p-value: blank for NaN, "< 1e-300" below 1e-300 (where
// float64 underflows to 0), two significant digits otherwise.
func PValue(p float64) string {
	switch {
	case math.IsNaN(p):
		return ""
	case p < 1e-300:
		return "< 1e-300"
	case p < 1e-3:
		return strconv.FormatFloat(p, 'e', 1, 64)
	}
	return strconv.FormatFloat(p, 'f', 3, 64)
}

// Thousands formats n with thousands separators.
func Thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return "-" + s
	}
	return s
}

// Plural is n with the noun, with an s unless n is 1: "1 shard", "1,593 samples".
func Plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "s") || strings.HasSuffix(noun, "x") || strings.HasSuffix(noun, "ch") || strings.HasSuffix(noun, "sh") {
		return Thousands(n) + " " + noun + "es"
	}
	return Thousands(n) + " " + noun + "s"
}

// Percent formats a fraction in [0, 1] as a percentage.
func Percent(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }

// PrintRejects writes a summary's "rejects by reason:" lines, sorted by
// reason, in samples or (for shard_* reasons) shards; nothing when there
// are none.
func PrintRejects(w io.Writer, rejects map[string]int64) {
	if len(rejects) == 0 {
		return
	}
	reasons := make([]string, 0, len(rejects))
	for r := range rejects {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	fmt.Fprintln(w, "rejects by reason:")
	for _, r := range reasons {
		unit := "sample"
		if reject.IsShard(r) {
			unit = "shard"
		}
		fmt.Fprintf(w, "  %-26s %s\n", r, Plural(rejects[r], unit))
	}
}
