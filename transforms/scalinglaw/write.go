package scalinglaw

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/conceptfreq/conceptfreq/io/beamfs"
	"github.com/conceptfreq/conceptfreq/io/paths"
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
	DroppedFile   = "dropped.parquet"
	ReportFile    = "report.html"
	PlotsDir      = "plots"
)

// Rendered are a fit's outputs, built in memory: nothing is written until
// every table, plot and the report could be made.
type Rendered struct {
	names []string
	data  map[string][]byte
}

func (r *Rendered) add(name string, data []byte) {
	if r.data == nil {
		r.data = map[string][]byte{}
	}
	if _, ok := r.data[name]; !ok {
		r.names = append(r.names, name)
	}
	r.data[name] = data
}

// Names lists the rendered files (relative paths), in the order made.
func (r *Rendered) Names() []string { return r.names }

// Bytes returns a rendered file's content.
func (r *Rendered) Bytes(name string) []byte { return r.data[name] }

// Render builds every output of res: the Parquet tables, the tail text
// files, the plots and report.html.
func Render(res *Results, cfg Config) (*Rendered, error) {
	out := &Rendered{}
	if err := renderTables(out, res, cfg); err != nil {
		return nil, err
	}
	figs, err := renderPlots(out, res)
	if err != nil {
		return nil, err
	}
	if err := renderReport(out, res, figs, cfg); err != nil {
		return nil, err
	}
	return out, nil
}

// WriteAll renders every output of res, then writes them into dir (local
// or gs://); a failure while rendering leaves dir untouched.
func WriteAll(ctx context.Context, dir string, res *Results, cfg Config) error {
	out, err := Render(res, cfg)
	if err != nil {
		return err
	}
	for _, name := range out.names {
		if err := beamfs.WriteBytes(ctx, paths.Join(dir, name), out.data[name]); err != nil {
			return err
		}
	}
	return nil
}

func addTable[T any](out *Rendered, name string, rows []T, extra ...tables.Column) error {
	var b bytes.Buffer
	if err := tables.WriteRows(&b, name, rows, nil, extra...); err != nil {
		return err
	}
	out.add(name, b.Bytes())
	return nil
}

// binRow is one row of bins.parquet.
type binRow struct {
	Counts      string  `parquet:"counts"`
	Pretraining string  `parquet:"pretraining"`
	Model       string  `parquet:"model"`
	Prompt      string  `parquet:"prompt"`
	Kind        string  `parquet:"count_kind"`
	Mode        string  `parquet:"mode"`
	Bin         int     `parquet:"bin"`
	Lo          float64 `parquet:"edge_low"`
	Hi          float64 `parquet:"edge_high"`
	N           int     `parquet:"concepts"`
	Mean        float64 `parquet:"metric_mean"`
	Std         float64 `parquet:"metric_std"`
	Used        bool    `parquet:"used"`
	Task        string  `parquet:"task"`
	Metric      string  `parquet:"metric"`
}

// longTailRow is one row of longtail.parquet, before its share_below_*
// columns.
type longTailRow struct {
	Pretraining string  `parquet:"pretraining"`
	Kind        string  `parquet:"count_kind"`
	Concepts    int     `parquet:"concepts"`
	Zero        int     `parquet:"zero_count"`
	Alpha       float64 `parquet:"zipf_alpha"`
	XMin        float64 `parquet:"zipf_xmin"`
	KS          float64 `parquet:"zipf_ks"`
	NTail       int     `parquet:"zipf_tail_n"`
	FitErr      string  `parquet:"fit_error"`
}

// tailTableRow is tail_concepts.parquet's column layout.
type tailTableRow struct {
	Pretraining string  `parquet:"pretraining"`
	Kind        string  `parquet:"count_kind"`
	Dataset     string  `parquet:"dataset"`
	Concept     string  `parquet:"concept"`
	Rank        int     `parquet:"rank"`
	Count       float64 `parquet:"count"`
	Zero        bool    `parquet:"zero_count"`
}

// renderTables makes the Parquet and text outputs of res.
func renderTables(out *Rendered, res *Results, cfg Config) error {
	fits := make([]Fit, 0, len(res.Fits)+len(res.Retrieval))
	var bins []binRow
	for _, f := range append(append([]*Fit(nil), res.Fits...), res.Retrieval...) {
		fits = append(fits, *f)
		for k, b := range f.Bins {
			bins = append(bins, binRow{f.Counts, f.Pretraining, f.Model, f.Prompt, f.Kind, f.Mode, k, b.Lo, b.Hi, b.N, b.Mean, b.Std, b.Used, f.Task, f.Metric})
		}
	}
	if err := addTable(out, FitsFile, fits); err != nil {
		return err
	}
	if err := addTable(out, BinsFile, bins); err != nil {
		return err
	}

	lts := make([]longTailRow, len(res.LongTail))
	shares := make([]tables.Column, len(cfg.ShareBelow))
	for i, t := range cfg.ShareBelow {
		shares[i] = tables.Column{Name: fmt.Sprintf("share_below_%g", t), Float64s: make([]float64, 0, len(res.LongTail))}
	}
	for i, lt := range res.LongTail {
		a, x, k := lt.Fit.Alpha, lt.Fit.XMin, lt.Fit.KS
		if lt.FitErr != "" {
			a, x, k = math.NaN(), math.NaN(), math.NaN()
		}
		lts[i] = longTailRow{lt.Pretraining, lt.Kind, lt.Concepts, lt.Zero, a, x, k, lt.Fit.NTail, lt.FitErr}
		for s := range cfg.ShareBelow {
			shares[s].Float64s = append(shares[s].Float64s, lt.Shares[s])
		}
	}
	if err := addTable(out, LongTailFile, lts, shares...); err != nil {
		return err
	}

	tail := make([]tailTableRow, len(res.Tail))
	for i, r := range res.Tail {
		tail[i] = tailTableRow{r.Pretraining, r.Kind, r.Dataset, r.Concept, r.Rank, r.Count, r.Count == 0}
	}
	if err := addTable(out, TailFile, tail); err != nil {
		return err
	}
	if err := renderTailText(out, res); err != nil {
		return err
	}
	if err := addTable(out, CrossFile, res.Cross); err != nil {
		return err
	}
	if err := addTable(out, DroppedFile, res.Dropped); err != nil {
		return err
	}
	return addTable(out, UnmatchedFile, res.Unmatched)
}

// renderTailText makes one text file per (pretraining, kind): the rarest
// non-zero concepts, then the zero-count ones.
func renderTailText(out *Rendered, res *Results) error {
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
		out.add("tail_"+sanitize(k)+".txt", []byte(b.String()))
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
