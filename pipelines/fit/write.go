package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/conceptfreq/conceptfreq/io/tables"
)

// Output file names.
const (
	FitsFile      = "fits.parquet"
	BinsFile      = "bins.parquet"
	LongTailFile  = "longtail.parquet"
	TailFile      = "tail_concepts.parquet"
	CrossFile     = "cross_dataset.parquet"
	UnmatchedFile = "unmatched.parquet"
	ReportFile    = "report.html"
	PlotsDir      = "plots"
)

func writeParquet(dir, name string, cols []tables.Column) error {
	var b bytes.Buffer
	if err := tables.WriteColumns(&b, name, cols, nil); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644)
}

// WriteTables writes the Parquet and text outputs of res into dir.
func WriteTables(dir string, res *Results, cfg Config) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var (
		pre, model, prompt, kind, mode, slice, ferr    []string
		n, concepts, unmatched                         []int64
		rho, p, slope, icpt, spear, spearP, lo, hi, r2 []float64
		bPre, bModel, bPrompt, bKind, bMode            []string
		bIdx, bN                                       []int64
		bLo, bHi, bMean, bStd                          []float64
		bUsed                                          []bool
	)
	for _, f := range res.Fits {
		pre, model, prompt, kind, mode = append(pre, f.Pretraining), append(model, f.Model), append(prompt, f.Prompt), append(kind, f.Kind), append(mode, f.Mode)
		slice, ferr = append(slice, f.BinSlice), append(ferr, f.Err)
		n, concepts, unmatched = append(n, int64(f.N)), append(concepts, int64(f.Concepts)), append(unmatched, int64(f.Unmatched))
		rho, p, slope, icpt = append(rho, f.Rho), append(p, f.P), append(slope, f.SlopePerDecade), append(icpt, f.Intercept)
		spear, spearP, lo, hi, r2 = append(spear, f.Spearman), append(spearP, f.SpearmanP), append(lo, f.CILow), append(hi, f.CIHigh), append(r2, f.R2)
		for i, b := range f.Bins {
			bPre, bModel, bPrompt, bKind, bMode = append(bPre, f.Pretraining), append(bModel, f.Model), append(bPrompt, f.Prompt), append(bKind, f.Kind), append(bMode, f.Mode)
			bIdx, bN = append(bIdx, int64(i)), append(bN, int64(b.N))
			bLo, bHi, bMean, bStd, bUsed = append(bLo, b.Lo), append(bHi, b.Hi), append(bMean, b.Mean), append(bStd, b.Std), append(bUsed, b.Used)
		}
	}
	if err := writeParquet(dir, FitsFile, []tables.Column{
		{Name: "pretraining", Strings: pre}, {Name: "model", Strings: model}, {Name: "prompt", Strings: prompt},
		{Name: "count_kind", Strings: kind}, {Name: "mode", Strings: mode}, {Name: "n", Int64s: n},
		{Name: "rho", Float64s: rho}, {Name: "p_value", Float64s: p}, {Name: "slope_per_decade", Float64s: slope},
		{Name: "intercept", Float64s: icpt}, {Name: "spearman", Float64s: spear}, {Name: "spearman_p_value", Float64s: spearP},
		{Name: "ci_low", Float64s: lo}, {Name: "ci_high", Float64s: hi}, {Name: "r2", Float64s: r2},
		{Name: "bin_slice", Strings: slice}, {Name: "concepts", Int64s: concepts}, {Name: "unmatched", Int64s: unmatched},
		{Name: "error", Strings: ferr},
	}); err != nil {
		return err
	}
	if err := writeParquet(dir, BinsFile, []tables.Column{
		{Name: "pretraining", Strings: bPre}, {Name: "model", Strings: bModel}, {Name: "prompt", Strings: bPrompt},
		{Name: "count_kind", Strings: bKind}, {Name: "mode", Strings: bMode}, {Name: "bin", Int64s: bIdx},
		{Name: "edge_low", Float64s: bLo}, {Name: "edge_high", Float64s: bHi}, {Name: "concepts", Int64s: bN},
		{Name: "metric_mean", Float64s: bMean}, {Name: "metric_std", Float64s: bStd}, {Name: "used", Bools: bUsed},
	}); err != nil {
		return err
	}

	var lPre, lKind, lErr []string
	var lN, lZero, lTail []int64
	var lAlpha, lXmin, lKS []float64
	shares := make([][]float64, len(cfg.ShareBelow))
	for _, lt := range res.LongTail {
		lPre, lKind, lErr = append(lPre, lt.Pretraining), append(lKind, lt.Kind), append(lErr, lt.FitErr)
		lN, lZero, lTail = append(lN, int64(lt.Concepts)), append(lZero, int64(lt.Zero)), append(lTail, int64(lt.Fit.NTail))
		a, x, k := lt.Fit.Alpha, lt.Fit.XMin, lt.Fit.KS
		if lt.FitErr != "" {
			a, x, k = math.NaN(), math.NaN(), math.NaN()
		}
		lAlpha, lXmin, lKS = append(lAlpha, a), append(lXmin, x), append(lKS, k)
		for i := range cfg.ShareBelow {
			shares[i] = append(shares[i], lt.Shares[i])
		}
	}
	cols := []tables.Column{{Name: "pretraining", Strings: lPre}, {Name: "count_kind", Strings: lKind},
		{Name: "concepts", Int64s: lN}, {Name: "zero_count", Int64s: lZero}, {Name: "zipf_alpha", Float64s: lAlpha},
		{Name: "zipf_xmin", Float64s: lXmin}, {Name: "zipf_ks", Float64s: lKS}, {Name: "zipf_tail_n", Int64s: lTail},
		{Name: "fit_error", Strings: lErr}}
	for i, t := range cfg.ShareBelow {
		cols = append(cols, tables.Column{Name: fmt.Sprintf("share_below_%g", t), Float64s: shares[i]})
	}
	if err := writeParquet(dir, LongTailFile, cols); err != nil {
		return err
	}

	var tPre, tKind, tDS, tConcept []string
	var tRank []int64
	var tCount []float64
	var tZero []bool
	for _, r := range res.Tail {
		tPre, tKind, tDS, tConcept = append(tPre, r.Pretraining), append(tKind, r.Kind), append(tDS, r.Dataset), append(tConcept, r.Concept)
		tRank, tCount, tZero = append(tRank, int64(r.Rank)), append(tCount, r.Count), append(tZero, r.Count == 0)
	}
	if err := writeParquet(dir, TailFile, []tables.Column{
		{Name: "pretraining", Strings: tPre}, {Name: "count_kind", Strings: tKind}, {Name: "dataset", Strings: tDS},
		{Name: "concept", Strings: tConcept}, {Name: "rank", Int64s: tRank}, {Name: "count", Float64s: tCount}, {Name: "zero_count", Bools: tZero},
	}); err != nil {
		return err
	}
	if err := writeTailText(dir, res); err != nil {
		return err
	}

	var cKind, cA, cB []string
	var cN []int64
	var cS, cP []float64
	for _, r := range res.Cross {
		cKind, cA, cB, cN, cS, cP = append(cKind, r.Kind), append(cA, r.A), append(cB, r.B), append(cN, int64(r.N)), append(cS, r.Spearman), append(cP, r.P)
	}
	if err := writeParquet(dir, CrossFile, []tables.Column{
		{Name: "count_kind", Strings: cKind}, {Name: "pretraining_a", Strings: cA}, {Name: "pretraining_b", Strings: cB},
		{Name: "n", Int64s: cN}, {Name: "spearman", Float64s: cS}, {Name: "p_value", Float64s: cP},
	}); err != nil {
		return err
	}

	var uPre, uModel, uPrompt, uKind, uDS, uConcept []string
	for _, u := range res.Unmatched {
		uPre, uModel, uPrompt, uKind = append(uPre, u.Pretraining), append(uModel, u.Model), append(uPrompt, u.Prompt), append(uKind, u.Kind)
		uDS, uConcept = append(uDS, u.Dataset), append(uConcept, u.Concept)
	}
	return writeParquet(dir, UnmatchedFile, []tables.Column{
		{Name: "pretraining", Strings: uPre}, {Name: "model", Strings: uModel}, {Name: "prompt", Strings: uPrompt},
		{Name: "count_kind", Strings: uKind}, {Name: "dataset", Strings: uDS}, {Name: "concept", Strings: uConcept},
	})
}

// writeTailText writes one text file per (pretraining, kind): the rarest
// non-zero concepts, then the zero-count ones.
func writeTailText(dir string, res *Results) error {
	groups := map[string][]TailRow{}
	var names []string
	for _, r := range res.Tail {
		k := r.Pretraining + "_" + r.Kind
		if groups[k] == nil {
			names = append(names, k)
		}
		groups[k] = append(groups[k], r)
	}
	sort.Strings(names)
	for _, k := range names {
		var b strings.Builder
		fmt.Fprintf(&b, "# Let it Wag! tail of %s: rarest concepts with a non-zero count (rank, count, dataset, concept)\n", k)
		for _, r := range groups[k] {
			if r.Count > 0 {
				fmt.Fprintf(&b, "%d\t%g\t%s\t%s\n", r.Rank, r.Count, r.Dataset, r.Concept)
			}
		}
		fmt.Fprintf(&b, "# concepts with count 0 (dataset, concept)\n")
		for _, r := range groups[k] {
			if r.Count == 0 {
				fmt.Fprintf(&b, "%s\t%s\n", r.Dataset, r.Concept)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "tail_"+sanitize(k)+".txt"), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ' ' || r == '|' {
			return '_'
		}
		return r
	}, s)
}
