package scalinglaw

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/conceptfreq/conceptfreq/internal/report"
)

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"num":    report.Num,
	"pval":   report.PValue,
	"signed": func(v float64) string { return fmt.Sprintf("%+.3f", v) },
	"png": func(b []byte) template.URL {
		return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b))
	},
	"ci": func(lo, hi float64) string {
		if math.IsNaN(lo) || math.IsNaN(hi) {
			return ""
		}
		return report.Num(lo) + " … " + report.Num(hi)
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>conceptfreq: frequency vs zero-shot accuracy</title>
<style>{{.Style}}</style></head><body>
<h1>Concept frequency vs zero-shot accuracy</h1>
<p class="lede">{{.Lede}}</p>
{{if .CountsPath}}<p>Counts of this run: <code>{{.CountsPath}}</code> ({{.CountsKind}} counts, named <b>{{.CountsName}}</b>), fitted against the performance of the {{.CountsPretraining}} models; its rows come first.</p>{{end}}
<nav class="toc"><b>Contents:</b> <a href="#headline">Headline</a>{{range .Sections}} · <a href="#{{.ID}}">{{.Title}}</a>{{end}}{{if .Retrieval}} · <a href="#retrieval">Retrieval</a>{{end}}{{if .LongTailFigures}} · <a href="#long-tail">Long tail</a>{{end}} · <a href="#all-fits">All fits</a>{{if .Cross}} · <a href="#cross-dataset">Cross-dataset agreement</a>{{end}} · <a href="#not-joined">Inputs not joined</a> · <a href="#method">Method</a></nav>
{{range .Notes}}<div class="note">{{.}}</div>
{{end}}
<h2 id="headline">Headline: {{.Kind}} frequency, {{.Prompt}} prompts</h2>
<table id="headline-table" class="sortable">
<thead><tr><th class="l">counts</th><th class="l">pretraining</th><th class="l">model</th><th>bins</th><th>ρ</th><th>slope per decade</th>{{if .Compare}}<th>study ρ</th><th>Δρ</th><th>study slope</th><th>Δ slope</th>{{end}}</tr></thead>
<tbody>{{range .Headline}}<tr><td class="l">{{if .Own}}<b>{{.Counts}}</b>{{else}}study's release{{end}}</td><td class="l">{{.Pretraining}}</td><td class="l">{{.Model}}</td><td>{{.Bins}}</td>
<td>{{num .Rho}}</td><td>{{num .Slope}}</td>
{{if $.Compare}}{{if .HasStudy}}<td>{{num .StudyRho}}</td><td>{{signed .DeltaRho}}</td><td>{{num .StudySlope}}</td><td>{{signed .DeltaSlope}}</td>{{else}}<td class="muted" colspan="4">{{if .Own}}the study released no counts for this pretraining name{{end}}</td>{{end}}{{end}}</tr>
{{end}}</tbody></table>
<p class="muted">ρ: Pearson correlation between the bin edges (log frequency) and the mean accuracy per bin, the study's measure; slope per decade: accuracy points gained per 10× more {{.Kind}} frequency. "study's release": fitted from the study's released counts and accuracies{{if .Compare}}; study ρ and study slope: the study's counts fitted against the same accuracies as this run's row{{end}}.</p>
{{with .HeadlineFigure}}<figure><img src="{{png .PNG}}" alt="{{.Title}}"><figcaption>{{.Caption}}</figcaption></figure>{{end}}
{{range .Sections}}<h2 id="{{.ID}}">{{.Title}}</h2>
{{range .Prompts}}<h3>{{.Title}}</h3>
<div class="grid">{{range .Figures}}<figure><img src="{{png .PNG}}" alt="{{.Title}}" loading="lazy"><figcaption>{{.Caption}}</figcaption></figure>{{end}}</div>
{{end}}{{end}}
{{if .Retrieval}}<h2 id="retrieval">Retrieval ({{len .Retrieval}} fits)</h2>
<p>The study's retrieval results (COCO-5k and Flickr-1k, recall@k as fractions), the concepts of both test sets pooled, against the study's counts of those concepts: {{.RetrievalBins}} bins in paper mode.</p>
<div class="grid">{{range .RetrievalFigures}}<figure><img src="{{png .PNG}}" alt="{{.Title}}" loading="lazy"><figcaption>{{.Caption}}</figcaption></figure>{{end}}</div>
<table id="retrieval-fits" class="sortable compact"><thead><tr><th class="l">pretraining</th><th class="l">model</th><th class="l">metric</th><th class="l">count</th><th class="l">mode</th><th>n</th><th>ρ</th><th>p</th>
<th>slope per decade</th><th>Spearman</th><th>95% CI of slope</th><th>R²</th><th class="l">bins used</th><th>concepts</th><th>unmatched</th><th class="l">note</th></tr></thead>
<tbody>{{range .Retrieval}}<tr id="{{.ID}}" title="{{.ID}}"><td class="l">{{.Pretraining}}</td><td class="l">{{.Model}}</td><td class="l">{{.Metric}}</td><td class="l">{{.Kind}}</td><td class="l">{{.Mode}}</td>
<td>{{.N}}</td><td>{{num .Rho}}</td><td>{{pval .P}}</td><td>{{num .SlopePerDecade}}</td><td>{{num .Spearman}}</td>
<td>{{ci .CILow .CIHigh}}</td><td>{{num .R2}}</td><td class="l">{{.BinSlice}}</td><td>{{.Concepts}}</td><td>{{.Unmatched}}</td><td class="l bad">{{.Err}}</td></tr>
{{end}}</tbody></table>{{end}}
{{if .LongTailFigures}}<h2 id="long-tail">Long tail</h2>
<div class="grid">{{range .LongTailFigures}}<figure><img src="{{png .PNG}}" alt="{{.Title}}" loading="lazy"><figcaption>{{.Caption}}</figcaption></figure>{{end}}</div>
<table class="sortable"><thead><tr><th class="l">pretraining</th><th class="l">count</th><th>concepts</th><th>zero count</th><th>Zipf α</th><th>x_min</th><th>KS</th>{{range .Shares}}<th>share &lt; {{.}}</th>{{end}}</tr></thead>
<tbody>{{range .LongTail}}<tr><td class="l">{{.Pretraining}}</td><td class="l">{{.Kind}}</td><td>{{.Concepts}}</td><td>{{.Zero}}</td>
<td>{{if .FitErr}}{{else}}{{num .Fit.Alpha}}{{end}}</td><td>{{if .FitErr}}{{else}}{{num .Fit.XMin}}{{end}}</td><td>{{if .FitErr}}{{else}}{{num .Fit.KS}}{{end}}</td>{{range .Shares}}<td>{{num .}}</td>{{end}}</tr>
{{end}}</tbody></table>{{end}}
<h2 id="all-fits">All fits ({{len .Fits}})</h2>
<input class="filter" data-filter="fits" placeholder="filter: e.g. laion400m matched class" aria-label="filter fits">
<table id="fits" class="sortable compact"><thead><tr><th class="l">counts</th><th class="l">pretraining</th><th class="l">model</th><th class="l">prompt</th><th class="l">count</th><th class="l">mode</th><th>n</th><th>ρ</th><th>p</th>
<th>slope per decade</th><th>Spearman</th><th>95% CI of slope</th><th>R²</th><th class="l">bins used</th><th>concepts</th><th>unmatched</th><th class="l">note</th></tr></thead>
<tbody>{{range .Fits}}<tr id="{{.ID}}" title="{{.ID}}"><td class="l">{{.Counts}}</td><td class="l">{{.Pretraining}}</td><td class="l">{{.Model}}</td><td class="l">{{.Prompt}}</td><td class="l">{{.Kind}}</td><td class="l">{{.Mode}}</td>
<td>{{.N}}</td><td>{{num .Rho}}</td><td>{{pval .P}}</td><td>{{num .SlopePerDecade}}</td><td>{{num .Spearman}}</td>
<td>{{ci .CILow .CIHigh}}</td><td>{{num .R2}}</td><td class="l">{{.BinSlice}}</td><td>{{.Concepts}}</td><td>{{.Unmatched}}</td><td class="l bad">{{.Err}}</td></tr>
{{end}}</tbody></table>
{{if .Cross}}<h2 id="cross-dataset">Cross-dataset frequency agreement (Spearman)</h2>
<table class="sortable"><thead><tr><th class="l">count</th><th class="l">a</th><th class="l">b</th><th>concepts</th><th>Spearman</th><th>p</th></tr></thead>
<tbody>{{range .Cross}}<tr><td class="l">{{.Kind}}</td><td class="l">{{.A}}</td><td class="l">{{.B}}</td><td>{{.N}}</td><td>{{num .Spearman}}</td><td>{{pval .P}}</td></tr>
{{end}}</tbody></table>{{end}}
<h2 id="not-joined">Inputs not joined</h2>
<p>{{len .Unmatched}} performance rows had no count (<code>unmatched.parquet</code>), {{len .Dropped}} were dropped for a missing or non-finite metric (<code>dropped.parquet</code>), {{len .Missing}} inputs were looked for and not found{{if .Missing}}:{{end}}</p>
{{if .Missing}}<ul>{{range .Missing}}<li><code>{{.}}</code></li>{{end}}</ul>{{end}}
<h2 id="method">Method</h2>
<p>Binned fit (the study, arXiv 2404.04125): counts of 0 become 1, {{.NBins}} equal-width bins of ln(count) (numpy <code>linspace</code>, <code>digitize(right=True)</code>),
mean metric per bin, Pearson ρ between the bin edges and the bin means over the bin slice (empty bins skipped). Per-concept fit: OLS of the metric on
log10(count) over single concepts, bootstrap 95% CI of the slope ({{.Bootstrap}} resamples, seed {{.Seed}}). Generated {{.Generated}} by conceptfreq <code>pipelines/fit</code>.</p>
<script>{{.Script}}</script>
</body></html>
`))

// figureGroup is one prompt set's figures within a section.
type figureGroup struct {
	Title   string
	Figures []Figure
}

// section is one count kind's figures, by prompt set.
type section struct {
	ID      string
	Title   string
	Prompts []figureGroup
}

// Lede states the headline result in one or two sentences.
func Lede(rows []HeadlineRow) string {
	if len(rows) == 0 {
		return "No binned fit could be computed (see the notes and the table of all fits)."
	}
	var rhos, slopes []float64
	study, own := 0, 0
	for _, r := range rows {
		if !math.IsNaN(r.Rho) {
			rhos = append(rhos, r.Rho)
		}
		if !math.IsNaN(r.Slope) {
			slopes = append(slopes, r.Slope)
		}
		if r.Own() {
			own++
		} else {
			study++
		}
	}
	sort.Float64s(rhos)
	sort.Float64s(slopes)
	k := rows[0].Kind
	var b strings.Builder
	if len(rhos) > 0 && len(slopes) > 0 {
		fmt.Fprintf(&b, "Across %d model/pretraining pairs, zero-shot accuracy rises linearly as %s frequency grows exponentially: ρ %.2f–%.2f (median %.2f), slope %.1f–%.1f per decade (accuracy points per 10× more data).",
			len(rows), k, rhos[0], rhos[len(rhos)-1], rhos[len(rhos)/2], slopes[0], slopes[len(slopes)-1])
	}
	switch {
	case own == 0:
		b.WriteString(" These fits use the study's released counts and accuracies, so they reproduce the study's own result.")
	case study > 0:
		fmt.Fprintf(&b, " %d of the rows use this run's counts, the other %d the study's released counts.", own, study)
		fallthrough
	default:
		var diffs []string
		for _, r := range rows {
			if r.Own() && r.HasStudy() {
				diffs = append(diffs, fmt.Sprintf("%s %s: ρ %.2f vs the study's %.2f (%+.2f)", r.Pretraining, r.Model, r.Rho, r.StudyRho, r.DeltaRho()))
			}
		}
		if len(diffs) > 0 {
			fmt.Fprintf(&b, " With this run's counts: %s.", strings.Join(diffs, "; "))
		} else {
			fmt.Fprintf(&b, " The study released no counts for the pretraining name of this run's rows to compare with.")
		}
	}
	return b.String()
}

// renderReport makes the self-contained report.html (plots embedded): the
// result first (lede, headline table and figure), then the figures by
// count kind and prompt set, every fit in a sortable table, the long tail,
// cross-dataset agreement and what was not joined.
func renderReport(out *Rendered, res *Results, figs []Figure, cfg Config) error {
	headline := Headline(res)
	kind, prompt := headlineChoice(res)
	var head *Figure
	var tails, retr []Figure
	byKind := map[string]map[string][]Figure{}
	for i := range figs {
		f := figs[i]
		switch {
		case f.Name == HeadlineFigure:
			head = &figs[i]
		case f.Task == TaskRetrieval:
			retr = append(retr, f)
		case f.Kind == "":
			tails = append(tails, f)
		default:
			if byKind[f.Kind] == nil {
				byKind[f.Kind] = map[string][]Figure{}
			}
			byKind[f.Kind][f.Prompt] = append(byKind[f.Kind][f.Prompt], f)
		}
	}
	var sections []section
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		return rank(kindOrder, kinds[i]) < rank(kindOrder, kinds[j]) || kinds[i] < kinds[j] && rank(kindOrder, kinds[i]) == rank(kindOrder, kinds[j])
	})
	for _, k := range kinds {
		s := section{ID: "figures-" + k, Title: strings.ToUpper(k[:1]) + k[1:] + " frequency"}
		prompts := make([]string, 0, len(byKind[k]))
		for p := range byKind[k] {
			prompts = append(prompts, p)
		}
		sort.Slice(prompts, func(i, j int) bool {
			return rank(promptOrder, prompts[i]) < rank(promptOrder, prompts[j]) || prompts[i] < prompts[j] && rank(promptOrder, prompts[i]) == rank(promptOrder, prompts[j])
		})
		for _, p := range prompts {
			s.Prompts = append(s.Prompts, figureGroup{Title: p + " prompts", Figures: byKind[k][p]})
		}
		sections = append(sections, s)
	}
	fits := append([]*Fit(nil), res.Fits...)
	sort.SliceStable(fits, func(i, j int) bool {
		a, b := fits[i], fits[j]
		if less, decided := fitGroupLess(a, b); decided {
			return less
		}
		return a.Model+a.Mode < b.Model+b.Mode
	})
	data := map[string]any{
		"Style": report.Style, "Script": report.Script, "Lede": Lede(headline), "Notes": Explanations(res, cfg),
		"Kind": kind, "Prompt": prompt, "Headline": headline, "HeadlineFigure": head, "Sections": sections,
		"LongTailFigures": tails, "RetrievalFigures": retr, "Retrieval": res.Retrieval, "RetrievalBins": cfg.RetrievalBins, "LongTail": res.LongTail, "Shares": cfg.ShareBelow, "Fits": fits, "Cross": res.Cross,
		"Unmatched": res.Unmatched, "Dropped": res.Dropped, "Missing": res.Missing,
		"Compare": AnyStudyComparison(headline), "CountsPath": res.CountsPath, "CountsName": res.CountsName,
		"CountsKind": res.CountsKind, "CountsPretraining": res.CountsPretraining,
		"Generated": time.Now().UTC().Format(time.RFC3339), "NBins": cfg.NBins, "Bootstrap": cfg.Bootstrap, "Seed": cfg.Seed,
	}
	var b bytes.Buffer
	if err := reportTmpl.Execute(&b, data); err != nil {
		return fmt.Errorf("report.html: %w", err)
	}
	out.add(ReportFile, b.Bytes())
	return nil
}
