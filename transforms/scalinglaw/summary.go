package scalinglaw

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/conceptfreq/conceptfreq/internal/report"
	"github.com/conceptfreq/conceptfreq/io/paper"
)

// Explanations say, in plain words, why performance rows were not joined
// or dropped and which inputs were not found, so that these counts do not
// read as errors: one line per cause.
func Explanations(res *Results, cfg Config) []string {
	var lines []string
	// Unmatched rows, grouped by count kind and dataset; a missing count
	// file of that dataset explains them.
	missingFile := map[string]bool{}
	for _, m := range res.Missing {
		missingFile[m] = true
	}
	type group struct{ kind, dataset string }
	groups := map[group]int{}
	pres := map[group]map[string]bool{}
	for _, u := range res.Unmatched {
		g := group{u.Kind, u.Dataset}
		groups[g]++
		if pres[g] == nil {
			pres[g] = map[string]bool{}
		}
		pres[g][u.Pretraining] = true
	}
	keys := make([]group, 0, len(groups))
	for g := range groups {
		keys = append(keys, g)
	}
	sort.Slice(keys, func(i, j int) bool {
		if groups[keys[i]] != groups[keys[j]] {
			return groups[keys[i]] > groups[keys[j]]
		}
		return keys[i].kind+keys[i].dataset < keys[j].kind+keys[j].dataset
	})
	for _, g := range keys {
		var ps []string
		released := true
		for p := range pres[g] {
			ps = append(ps, p)
			if cfg.PaperDir != "" && missingFile[countsFile(cfg, g.dataset, p, g.kind)] {
				released = false
			}
		}
		sort.Strings(ps)
		why := "no count with the same name (add an --alias if the names differ)"
		if !released {
			why = "the study did not release those counts"
		}
		lines = append(lines, fmt.Sprintf("%s %s %s rows (%s) not fitted: %s", report.Thousands(int64(groups[g])), g.dataset, g.kind, strings.Join(ps, ", "), why))
	}
	if n := len(res.Dropped); n > 0 {
		lines = append(lines, fmt.Sprintf("%s performance rows dropped: missing or non-finite metric (listed in %s)", report.Thousands(int64(n)), DroppedFile))
	}
	var countFiles []string
	other := 0
	for _, m := range res.Missing {
		if strings.Contains(m, "search_counts/") {
			countFiles = append(countFiles, m[strings.LastIndex(m, "/")+1:])
		} else {
			other++
		}
	}
	if len(countFiles) > 0 {
		lines = append(lines, fmt.Sprintf("%d count files are not in the study's release: %s", len(countFiles), strings.Join(countFiles, ", ")))
	}
	if other > 0 {
		lines = append(lines, fmt.Sprintf("%d performance inputs were looked for and not found (listed in report.html)", other))
	}
	return lines
}

func countsFile(cfg Config, dataset, pretraining, kind string) string {
	return strings.TrimSuffix(cfg.PaperDir, "/") + "/search_counts/" + paper.SearchCountsFile(dataset, pretraining, paper.CountKind(kind), cfg.Threshold)
}

// PrintSummary prints the paper-mode fits of the headline count kind (the
// study's main result; a count run's rows first), a warning for each fit
// that could not be computed, why some rows were not fitted, and what was
// written.
func PrintSummary(w io.Writer, res *Results, cfg Config) {
	fmt.Fprintf(w, "conceptfreq fit: %s, %s, %s dropped, %s\n",
		report.Plural(int64(len(res.Fits)), "fit"), report.Plural(int64(len(res.Unmatched)), "unmatched performance concept"),
		report.Plural(int64(len(res.Dropped)), "row"), report.Plural(int64(len(res.Missing)), "missing input"))
	if res.CountsPath != "" {
		follow := ""
		if cfg.PaperDir != "" {
			follow = "; the study's own rows follow"
		}
		fmt.Fprintf(w, "counts: %s (%s counts) as %q, fitted against the %s models' performance%s\n",
			res.CountsPath, res.CountsKind, res.CountsName, res.CountsPretraining, follow)
	}
	for _, l := range Explanations(res, cfg) {
		fmt.Fprintf(w, "  note: %s\n", l)
	}
	kind, _ := headlineChoice(res)
	fmt.Fprintf(w, "%-14s %-12s %-10s %-9s %-8s %6s %8s %16s\n", "counts", "pretraining", "model", "prompt", "count", "bins", "rho", "slope per decade")
	var degenerate []*Fit
	for _, f := range res.Fits {
		if f.Mode != ModePaperBins || (cfg.PaperDir != "" && f.Kind != kind && !f.Own()) {
			continue
		}
		if f.Err != "" || math.IsNaN(f.Rho) {
			degenerate = append(degenerate, f)
			continue
		}
		prompt := f.Prompt
		if f.Task == TaskRetrieval {
			prompt = f.Metric
		}
		fmt.Fprintf(w, "%-14s %-12s %-10s %-9s %-8s %6d %8.3f %16.2f\n", f.Counts, f.Pretraining, f.Model, prompt, f.Kind, f.N, f.Rho, f.SlopePerDecade)
	}
	for _, f := range degenerate {
		why := f.Err
		if why == "" {
			why = "the correlation is undefined"
		}
		prompt := f.Prompt
		if f.Task == TaskRetrieval {
			prompt = f.Metric
		}
		fmt.Fprintf(w, "warning: no binned fit for %s %s %s %s (%s counts): %s; %s joined\n", f.Pretraining, f.Model, prompt, f.Kind, f.Counts, why,
			report.Plural(int64(f.Concepts), "concept"))
	}
	if len(res.Retrieval) > 0 {
		// One line per metric: the median ρ and slope of its binned fits.
		byMetric := map[string][]*Fit{}
		var metrics []string
		for _, f := range res.Retrieval {
			if f.Mode != ModePaperBins || f.Err != "" || math.IsNaN(f.Rho) {
				continue
			}
			if byMetric[f.Metric] == nil {
				metrics = append(metrics, f.Metric)
			}
			byMetric[f.Metric] = append(byMetric[f.Metric], f)
		}
		fmt.Fprintf(w, "retrieval (the study's COCO and Flickr results, task=retrieval in %s): %s\n", FitsFile, report.Plural(int64(len(res.Retrieval)), "fit"))
		fmt.Fprintf(w, "  %-14s %6s %12s %24s\n", "metric", "pairs", "median rho", "median slope per decade")
		for _, m := range metrics {
			var rhos, slopes []float64
			for _, f := range byMetric[m] {
				rhos, slopes = append(rhos, f.Rho), append(slopes, f.SlopePerDecade)
			}
			fmt.Fprintf(w, "  %-14s %6d %12.3f %24.4f\n", m, len(rhos), median(rhos), median(slopes))
		}
	}
	fmt.Fprintf(w, "outputs: %s, %s, %s, %s, %s, %s, %s, tail_*.txt, %s/*.svg|png, %s\n",
		FitsFile, BinsFile, LongTailFile, TailFile, CrossFile, UnmatchedFile, DroppedFile, PlotsDir, ReportFile)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}
