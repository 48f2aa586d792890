package count

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"github.com/conceptfreq/conceptfreq/io/reject"
	"html/template"
	"math"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/conceptfreq/conceptfreq/internal/report"
	"github.com/conceptfreq/conceptfreq/io/shard"
	"github.com/conceptfreq/conceptfreq/io/tables"
)

// ReportFile is the count run's HTML report, beside its Parquet outputs.
const ReportFile = "report.html"

type conceptRow struct {
	Concept        string
	Text           int64
	Image, Matched string
	Rank           int
}

type rejectRow struct {
	Reason, Unit, Meaning string
	N                     int64
}

var countReportTmpl = template.Must(template.New("count").Funcs(template.FuncMap{
	"n":   report.Thousands,
	"ni":  func(v int) string { return report.Thousands(int64(v)) },
	"pct": report.Percent,
	"png": func(b []byte) template.URL {
		return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b))
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>conceptfreq count report</title>
<style>{{.Style}}</style></head><body>
<h1>Concept counts</h1>
<p class="lede">{{.Lede}}</p>
<h2 id="summary">Run</h2>
<table id="summary-table"><tbody>
<tr><td class="l">shards</td><td class="l">{{n .S.ShardsRead}} read whole{{if .S.ShardsFailed}}, {{n .S.ShardsFailed}} ended early or unreadable ({{n .S.SamplesInFailedShards}} samples before the damage kept){{end}}</td></tr>
<tr><td class="l">samples</td><td class="l">{{n .S.SamplesRead}} read, {{n .S.SamplesWithCaption}} with a caption, {{n .S.SamplesMatched}} mention at least one concept</td></tr>
<tr><td class="l">rejects</td><td class="l">{{n .S.SampleRejects}} samples without a usable caption{{if .Image}}, {{n .S.ImageRejects}} images not tagged{{end}}</td></tr>
<tr><td class="l">vocabulary</td><td class="l">{{ni .S.Config.VocabularySize}} concepts ({{.S.Config.VocabularySource}}), {{ni .S.ConceptsNonZero}} found at least once</td></tr>
<tr><td class="l">rules</td><td class="l">match={{.S.Config.Match}}, pos={{.S.Config.POS}}, lemmatiser {{.S.Config.Lemmatizer}}</td></tr>
{{with .Image}}<tr><td class="l">image tagging</td><td class="l">{{.Tagger}} {{.Model}}{{if .ScoresDir}} (recounted from {{.ScoresDir}}){{end}}, threshold {{.Threshold}}, {{len .UnknownConcepts}} concepts unknown to the tagger</td></tr>{{end}}
<tr><td class="l">throughput</td><td class="l">{{printf "%.0f" .S.SamplesPerSecond}} samples/s over {{printf "%.1f" .S.WallSeconds}} s ({{.S.Config.Runner}} runner)</td></tr>
</tbody></table>
{{if .Image}}<h2>Image and caption</h2>
<p>{{n .S.ImagesTagged}} images tagged, {{n .S.ImagesWithConcept}} with a concept above the threshold.
Misalignment (the study's App. K: image and caption concepts both found and disjoint): {{n .S.Misaligned}} of {{n .S.MisalignmentConsidered}} samples considered
({{pct .S.MisalignmentDegreeConsidered}}; {{pct .S.MisalignmentDegree}} of all samples read; {{pct .S.MisalignmentDegreeExtracted}} of the larger of the samples with an image concept and with a caption concept, the study's second denominator).</p>
{{with .Scatter}}<figure><img src="{{png .}}" alt="image vs text counts"><figcaption>Per concept: samples whose image shows it vs samples whose caption mentions it (log scales, +1). Points on the diagonal agree.</figcaption></figure>{{end}}{{end}}
{{with .S.NearDuplicateControl}}<h2 id="similarity">Similarity control</h2>
<p>{{n .ImagesSearched}} tagged images compared with every test image; {{n .NearDuplicates}} are near-duplicates (cosine similarity to their most similar test image ≥ {{.Threshold}}) and are left out of the <code>_dissimilar</code> counts; {{n .Listed}} at or above {{.ReportFloor}} are listed in <code>near_duplicates/</code>.</p>
<table id="near-sets"><thead><tr><th class="l">test set</th><th>test images</th><th>near-duplicates in the crawl</th></tr></thead>
<tbody>{{range .ByTestSet}}<tr><td class="l">{{.Dataset}}</td><td>{{n .TestImages}}</td><td>{{n .NearDuplicates}}</td></tr>{{end}}</tbody></table>
{{if .MostAffected}}<h3>Concepts most affected</h3>
<table class="sortable" id="near-affected"><thead><tr><th class="l">concept</th><th class="l">count</th><th>with</th><th>without near-duplicates</th><th>removed</th></tr></thead>
<tbody>{{range .MostAffected}}<tr><td class="l">{{.Concept}}</td><td class="l">{{.Kind}}</td><td>{{n .Count}}</td><td>{{n .CountDissimilar}}</td><td>{{pct .RemovedFraction}}</td></tr>{{end}}</tbody></table>
{{else}}<p>No concept's count changes without the near-duplicates.</p>{{end}}{{end}}
<h2>Long tail</h2>
<p>{{.TailSentence}}</p>
<figure><img src="{{png .RankPlot}}" alt="rank-frequency plot"><figcaption>Concepts ranked by count, both axes logarithmic: a straight line is a power law (Zipf).</figcaption></figure>
<div class="grid">
<div><h3>Most frequent</h3>
<table class="sortable"><thead><tr><th>rank</th><th class="l">concept</th><th>text</th>{{if .Image}}<th>image</th><th>matched</th>{{end}}</tr></thead>
<tbody>{{range .Top}}<tr><td>{{.Rank}}</td><td class="l">{{.Concept}}</td><td>{{n .Text}}</td>{{if $.Image}}<td>{{.Image}}</td><td>{{.Matched}}</td>{{end}}</tr>{{end}}</tbody></table></div>
<div><h3>Least frequent (found at least once)</h3>
<table class="sortable"><thead><tr><th>rank</th><th class="l">concept</th><th>text</th>{{if .Image}}<th>image</th><th>matched</th>{{end}}</tr></thead>
<tbody>{{range .Bottom}}<tr><td>{{.Rank}}</td><td class="l">{{.Concept}}</td><td>{{n .Text}}</td>{{if $.Image}}<td>{{.Image}}</td><td>{{.Matched}}</td>{{end}}</tr>{{end}}</tbody></table></div>
</div>
{{if .Zero}}<p>{{n .ZeroCount}} concepts were never found{{if .Zero}}, e.g. {{range $i, $c := .Zero}}{{if $i}}, {{end}}{{$c}}{{end}}{{end}}.</p>{{end}}
<h2>Rejects</h2>
{{if .Rejects}}<table class="sortable"><thead><tr><th class="l">reason</th><th>count</th><th class="l">unit</th><th class="l">meaning</th></tr></thead>
<tbody>{{range .Rejects}}<tr><td class="l">{{.Reason}}</td><td>{{n .N}}</td><td class="l">{{.Unit}}</td><td class="l">{{.Meaning}}</td></tr>{{end}}</tbody></table>
<p class="muted">Every sample is counted or listed in <code>rejects/</code> with its shard, key, reason and detail.</p>
{{else}}<p>No rejects: every sample read was counted.</p>{{end}}
<p class="muted">Outputs: {{range $i, $f := .S.OutputFiles}}{{if $i}}, {{end}}<code>{{$f}}</code>{{end}}. Generated {{.S.FinishedAt.Format "2006-01-02T15:04:05Z07:00"}} by conceptfreq <code>pipelines/count</code>.</p>
<script>{{.Script}}</script>
</body></html>
`))

// renderCountReport makes report.html for a run from its statistics and
// concept counts (in vocabulary order).
func renderCountReport(rs RunStats, rows []tables.ConceptCount) ([]byte, error) {
	image := rs.Config.Image
	sorted := append([]tables.ConceptCount(nil), rows...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].TextCount > sorted[j].TextCount })
	opt := func(p *int64) string {
		if p == nil {
			return ""
		}
		return report.Thousands(*p)
	}
	var nonzero []conceptRow
	var zero []string
	zeroCount := 0
	for i, r := range sorted {
		if r.TextCount == 0 {
			zeroCount++
			if len(zero) < 12 {
				zero = append(zero, r.Concept)
			}
			continue
		}
		nonzero = append(nonzero, conceptRow{Concept: r.Concept, Text: r.TextCount, Image: opt(r.ImageCount), Matched: opt(r.MatchedCount), Rank: i + 1})
	}
	top := nonzero[:min(20, len(nonzero))]
	bottom := nonzero[max(len(top), len(nonzero)-20):]
	// Reverse the bottom so the rarest comes first.
	bottom = append([]conceptRow(nil), bottom...)
	for i, j := 0, len(bottom)-1; i < j; i, j = i+1, j-1 {
		bottom[i], bottom[j] = bottom[j], bottom[i]
	}
	var under10, under100 int
	for _, r := range rows {
		if r.TextCount < 10 {
			under10++
		}
		if r.TextCount < 100 {
			under100++
		}
	}
	n := max(len(rows), 1)
	tail := fmt.Sprintf("Of %s, %s have no caption mention, %s fewer than 10 and %s fewer than 100.",
		report.Plural(int64(len(rows)), "concept"), report.Percent(float64(zeroCount)/float64(n)), report.Percent(float64(under10)/float64(n)), report.Percent(float64(under100)/float64(n)))
	rankPNG, err := rankPlot(sorted, image != nil)
	if err != nil {
		return nil, err
	}
	var scatter []byte
	if image != nil {
		if scatter, err = scatterPlot(rows); err != nil {
			return nil, err
		}
	}
	var rejects []rejectRow
	for reason, k := range rs.Rejects {
		unit := "samples"
		if shard.IsShardReason(reason) {
			unit = "shards"
		}
		rejects = append(rejects, rejectRow{Reason: reason, Unit: unit, Meaning: reject.Meaning(reason), N: k})
	}
	sort.Slice(rejects, func(i, j int) bool {
		return rejects[i].N > rejects[j].N || rejects[i].N == rejects[j].N && rejects[i].Reason < rejects[j].Reason
	})
	lede := fmt.Sprintf("%s read from %s; %s of the %s concepts found in captions, the most frequent %q (%s samples).",
		report.Plural(rs.SamplesRead, "sample"), report.Plural(rs.ShardsRead+rs.ShardsFailed, "shard"),
		report.Thousands(int64(rs.ConceptsNonZero)), report.Thousands(int64(len(rows))), firstConcept(top), firstCount(top))
	var b bytes.Buffer
	err = countReportTmpl.Execute(&b, map[string]any{
		"Style": report.Style, "Script": report.Script, "S": rs, "Image": image, "Lede": lede,
		"Top": top, "Bottom": bottom, "Zero": zero, "ZeroCount": int64(zeroCount), "TailSentence": tail,
		"RankPlot": rankPNG, "Scatter": scatter, "Rejects": rejects,
	})
	if err != nil {
		return nil, fmt.Errorf("count: report: %w", err)
	}
	return b.Bytes(), nil
}

func firstConcept(rows []conceptRow) string {
	if len(rows) == 0 {
		return "none"
	}
	return rows[0].Concept
}

func firstCount(rows []conceptRow) string {
	if len(rows) == 0 {
		return "0"
	}
	return report.Thousands(rows[0].Text)
}

// rankPlot is the rank–frequency plot of the text (and image, matched)
// counts.
func rankPlot(sorted []tables.ConceptCount, image bool) ([]byte, error) {
	p := report.NewPlot("Concept counts by rank", "rank (log scale)", "samples (log scale)")
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = report.DecadeTicks{}, report.DecadeTicks{}
	p.Legend.Top, p.Legend.Left = false, true
	series := []struct {
		name string
		get  func(tables.ConceptCount) (int64, bool)
	}{{"caption (text_count)", func(r tables.ConceptCount) (int64, bool) { return r.TextCount, true }}}
	if image {
		series = append(series,
			struct {
				name string
				get  func(tables.ConceptCount) (int64, bool)
			}{"image (image_count)", func(r tables.ConceptCount) (int64, bool) {
				if r.ImageCount == nil {
					return 0, false
				}
				return *r.ImageCount, true
			}},
			struct {
				name string
				get  func(tables.ConceptCount) (int64, bool)
			}{"both (matched_count)", func(r tables.ConceptCount) (int64, bool) {
				if r.MatchedCount == nil {
					return 0, false
				}
				return *r.MatchedCount, true
			}})
	}
	drawn := 0
	lo, hi, n := math.Inf(1), 0.0, 0
	for i, s := range series {
		var vals []float64
		for _, r := range sorted {
			if v, ok := s.get(r); ok && v > 0 {
				vals = append(vals, float64(v))
			}
		}
		sort.Sort(sort.Reverse(sort.Float64Slice(vals)))
		if len(vals) == 0 {
			continue
		}
		pts := make(plotter.XYs, len(vals))
		for k, v := range vals {
			pts[k] = plotter.XY{X: float64(k + 1), Y: v}
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		n = max(n, len(vals))
		ln, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		ln.LineStyle.Color = report.Colour(i)
		ln.LineStyle.Width = vg.Points(1.8)
		if len(pts) == 1 {
			sc, err := plotter.NewScatter(pts)
			if err != nil {
				return nil, err
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: report.Colour(i), Shape: draw.CircleGlyph{}, Radius: vg.Points(3)}
			p.Add(sc)
		} else {
			p.Add(ln)
		}
		p.Legend.Add(s.name, ln)
		drawn++
	}
	report.LogRange(&p.X, 1, float64(max(n, 1)))
	report.LogRange(&p.Y, lo, hi)
	if drawn == 0 {
		p.X.Scale, p.Y.Scale = plot.LinearScale{}, plot.LinearScale{}
		p.X.Tick.Marker, p.Y.Tick.Marker = plot.DefaultTicks{}, report.LinearTicks{N: 5}
		p.Title.Text += " (no concept found)"
	}
	png, _, err := report.Render(p, 7*vg.Inch, 4.5*vg.Inch)
	return png, err
}

// scatterPlot is image vs text counts per concept the tagger knows.
func scatterPlot(rows []tables.ConceptCount) ([]byte, error) {
	p := report.NewPlot("Image vs caption counts per concept", "caption mentions + 1 (log scale)", "image tags + 1 (log scale)")
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = report.DecadeTicks{}, report.DecadeTicks{}
	var pts plotter.XYs
	hi := 1.0
	for _, r := range rows {
		if r.ImageCount == nil {
			continue
		}
		x, y := float64(r.TextCount+1), float64(*r.ImageCount+1)
		pts = append(pts, plotter.XY{X: x, Y: y})
		hi = math.Max(hi, math.Max(x, y))
	}
	if len(pts) == 0 {
		return nil, nil
	}
	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return nil, err
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: report.Colour(0), Shape: draw.CircleGlyph{}, Radius: vg.Points(2.5)}
	diag, err := plotter.NewLine(plotter.XYs{{X: 1, Y: 1}, {X: hi, Y: hi}})
	if err != nil {
		return nil, err
	}
	diag.LineStyle.Color = report.Grey
	diag.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(diag, sc)
	report.LogRange(&p.X, 1, hi)
	report.LogRange(&p.Y, 1, hi)
	png, _, err := report.Render(p, 6*vg.Inch, 4.5*vg.Inch)
	return png, err
}
