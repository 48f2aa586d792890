package scalinglaw

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"math"
	"time"
)

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"num": func(v float64) string {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return "—"
		}
		return fmt.Sprintf("%.3g", v)
	},
	"png": func(b []byte) template.URL {
		return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b))
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>conceptfreq fit report</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
th{background:#f3f3f3}td.s{text-align:left}figure{display:inline-block;margin:0 1em 1em 0}
img{max-width:560px;border:1px solid #ddd}.err{color:#a00}
</style></head><body>
<h1>Frequency vs zero-shot performance</h1>
<p>Generated {{.Generated}} by conceptfreq <code>pipelines/fit</code>. Paper mode reproduces arXiv 2404.04125:
counts of 0 become 1, {{.NBins}} equal-width bins of ln(count), numpy <code>digitize(right=True)</code>,
Pearson ρ between the bin edges and bin means over the bin slice (empty bins skipped). Per-concept mode:
OLS of the metric on log10(count) over single concepts, bootstrap 95% CI of the slope ({{.Bootstrap}} resamples, seed {{.Seed}}).
Slopes are metric points per 10× frequency.</p>
<h2>Figures</h2>
{{range .Figures}}<figure><img src="{{png .PNG}}" alt="{{.Title}}"><figcaption>{{.Title}}</figcaption></figure>
{{end}}
<h2>Fits ({{len .Fits}})</h2>
<table><tr><th>id</th><th>pretraining</th><th>model</th><th>prompt</th><th>count</th><th>mode</th><th>n</th><th>ρ</th><th>p</th>
<th>slope/decade</th><th>intercept</th><th>Spearman</th><th>95% CI</th><th>R²</th><th>bins</th><th>concepts</th><th>unmatched</th></tr>
{{range .Fits}}<tr id="{{.ID}}"><td class="s">{{.ID}}</td><td class="s">{{.Pretraining}}</td><td class="s">{{.Model}}</td><td class="s">{{.Prompt}}</td><td class="s">{{.Kind}}</td><td class="s">{{.Mode}}</td>
<td>{{.N}}</td><td>{{num .Rho}}</td><td>{{num .P}}</td><td>{{num .SlopePerDecade}}</td><td>{{num .Intercept}}</td><td>{{num .Spearman}}</td>
<td>{{num .CILow}} … {{num .CIHigh}}</td><td>{{num .R2}}</td><td class="s">{{.BinSlice}}</td><td>{{.Concepts}}</td><td>{{.Unmatched}}</td></tr>
{{if .Err}}<tr><td colspan="17" class="s err">{{.ID}}: {{.Err}}</td></tr>{{end}}
{{end}}</table>
<h2>Long tail</h2>
<table><tr><th>pretraining</th><th>count</th><th>concepts</th><th>zero count</th><th>Zipf α</th><th>x_min</th><th>KS</th>{{range .Shares}}<th>share &lt; {{.}}</th>{{end}}</tr>
{{range .LongTail}}<tr><td class="s">{{.Pretraining}}</td><td class="s">{{.Kind}}</td><td>{{.Concepts}}</td><td>{{.Zero}}</td>
<td>{{if .FitErr}}—{{else}}{{num .Fit.Alpha}}{{end}}</td><td>{{num .Fit.XMin}}</td><td>{{num .Fit.KS}}</td>{{range .Shares}}<td>{{num .}}</td>{{end}}</tr>
{{end}}</table>
<h2>Cross-dataset frequency agreement (Spearman)</h2>
<table><tr><th>count</th><th>a</th><th>b</th><th>concepts</th><th>Spearman</th><th>p</th></tr>
{{range .Cross}}<tr><td class="s">{{.Kind}}</td><td class="s">{{.A}}</td><td class="s">{{.B}}</td><td>{{.N}}</td><td>{{num .Spearman}}</td><td>{{num .P}}</td></tr>
{{end}}</table>
<h2>Inputs not joined</h2>
<p>{{len .Unmatched}} performance concepts had no count (listed in <code>unmatched.parquet</code>); {{len .Missing}} input files were missing{{if .Missing}}:{{end}}</p>
<ul>{{range .Missing}}<li><code>{{.}}</code></li>{{end}}</ul>
</body></html>
`))

// renderReport makes the self-contained report.html (plots embedded).
func renderReport(out *Rendered, res *Results, figs []Figure, cfg Config) error {
	data := map[string]any{
		"Generated": time.Now().UTC().Format(time.RFC3339), "NBins": cfg.NBins, "Bootstrap": cfg.Bootstrap, "Seed": cfg.Seed,
		"Figures": figs, "Fits": res.Fits, "LongTail": res.LongTail, "Shares": cfg.ShareBelow,
		"Cross": res.Cross, "Unmatched": res.Unmatched, "Missing": res.Missing,
	}
	var b bytes.Buffer
	if err := reportTmpl.Execute(&b, data); err != nil {
		return fmt.Errorf("scalinglaw: report: %w", err)
	}
	out.add(ReportFile, b.Bytes())
	return nil
}
