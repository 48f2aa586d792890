package scalinglaw

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"

	"github.com/conceptfreq/conceptfreq/internal/shareddata"
	"github.com/conceptfreq/conceptfreq/io/paper"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/transforms/scalinglaw/fitstats"
)

var update = flag.Bool("update", false, "rewrite testdata/fit/golden*.json")

// paperDir is the study's released data in shared/data.
func paperDir(t *testing.T) string {
	t.Helper()
	return shareddata.Path(t, "paper")
}

var ctx = context.Background()

// fitAndWrite computes every fit of cfg and writes its outputs.
func fitAndWrite(t *testing.T, cfg Config) (*Results, error) {
	t.Helper()
	res, err := LoadAndFit(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return res, WriteAll(ctx, cfg.Output, res, cfg)
}

func defaultConfig(t *testing.T) Config {
	t.Helper()
	def := func(s string) fitstats.Slice {
		sl, err := fitstats.ParseSlice(s)
		if err != nil {
			t.Fatal(err)
		}
		return sl
	}
	return Config{PaperDir: paperDir(t), Output: t.TempDir(), Pairs: paper.Pairs, Prompts: paper.Prompts,
		Datasets: paper.Datasets, Kinds: []paper.CountKind{paper.Matched, paper.Text, paper.Image}, Threshold: "0.7",
		NBins: 12, DefaultSlice: def("1:-1"), Slices: map[string]fitstats.Slice{"laion400m": def("2:-1"), "synthci30m": def("0:-4")},
		Zeros: fitstats.ZerosExclude, Bootstrap: 200, Seed: 1, TailK: 20, ShareBelow: []float64{10, 100},
		Aliases: map[string]map[string]string{"cifar10": {"plane": "airplane"}}}
}

// reference is a deliberately plain re-implementation of the study's
// procedure, written from its description (README of ../shared/data), used
// to check the production code.
type reference struct {
	means []float64 // NaN for empty bins
	rho   float64
	slope float64 // accuracy points per 10× frequency: OLS slope over ln(count) × ln 10
	n     int
}

func referenceFit(t *testing.T, pre, model, prompt string, lo, hi int) reference {
	t.Helper()
	var xs, ys []float64
	for _, ds := range paper.Datasets {
		var counts map[string]float64
		b, err := os.ReadFile(filepath.Join(paperDir(t), "search_counts", ds+"_"+pre+"_integrated_tlemmatized_i0.7_search_counts.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &counts); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(filepath.Join(paperDir(t), "zero_shot_evaluations", ds+"_"+prompt+"_results.json"))
		if err != nil {
			t.Fatal(err)
		}
		var results map[string]struct {
			Classwise map[string]float64 `json:"classwise"`
		}
		if err := json.Unmarshal(raw, &results); err != nil {
			t.Fatal(err)
		}
		// "the first model key that contains both names", in file order.
		keyRE := regexp.MustCompile(`"(backbone[^"]*)"\s*:`)
		var chosen string
		for _, m := range keyRE.FindAllSubmatch(raw, -1) {
			k := string(m[1])
			if strings.Contains(k, model) && strings.Contains(k, pre) {
				chosen = k
				break
			}
		}
		if chosen == "" {
			t.Fatalf("%s %s: no model key for %s/%s", ds, prompt, model, pre)
		}
		for class, acc := range results[chosen].Classwise {
			name := class
			if ds == "cifar10" && class == "plane" {
				name = "airplane"
			}
			c, ok := counts[name]
			if !ok {
				t.Fatalf("%s: class %q has no count", ds, class)
			}
			if c == 0 {
				c = 1
			}
			xs = append(xs, math.Log(c))
			ys = append(ys, acc)
		}
	}
	mn, mx := xs[0], xs[0]
	for _, x := range xs {
		mn, mx = math.Min(mn, x), math.Max(mx, x)
	}
	edges := make([]float64, 12)
	for i := range edges {
		edges[i] = mn + float64(i)*(mx-mn)/11
	}
	edges[11] = mx
	sums := make([]float64, 12)
	ns := make([]int, 12)
	for i, x := range xs {
		bin := 0 // digitize(right=True): number of edges strictly below x
		for _, e := range edges {
			if e < x {
				bin++
			}
		}
		sums[bin] += ys[i]
		ns[bin]++
	}
	ref := reference{means: make([]float64, 12)}
	var ex, ey []float64
	for i := range edges {
		ref.means[i] = math.NaN()
		if ns[i] > 0 {
			ref.means[i] = sums[i] / float64(ns[i])
		}
		if i >= lo && i < hi && ns[i] > 0 {
			ex, ey = append(ex, edges[i]), append(ey, ref.means[i])
		}
	}
	var sx, sy, sxx, syy, sxy float64
	n := float64(len(ex))
	for i := range ex {
		sx, sy = sx+ex[i], sy+ey[i]
		sxx, syy, sxy = sxx+ex[i]*ex[i], syy+ey[i]*ey[i], sxy+ex[i]*ey[i]
	}
	ref.rho = (n*sxy - sx*sy) / math.Sqrt((n*sxx-sx*sx)*(n*syy-sy*sy))
	ref.slope = (n*sxy - sx*sy) / (n*sxx - sx*sx) * math.Log(10)
	ref.n = len(ex)
	return ref
}

func TestReproducesStudy(t *testing.T) {
	paperDir(t)
	cfg := defaultConfig(t)
	cfg.Kinds = []paper.CountKind{paper.Matched}
	res, err := LoadAndFit(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	slices := map[string][2]int{"laion400m": {2, 11}, "synthci30m": {0, 8}}
	checked := 0
	golden := map[string]float64{}
	for _, f := range res.Fits {
		if f.Mode != ModePaperBins {
			continue
		}
		if f.Unmatched != 0 {
			t.Errorf("%s: %d unmatched concepts; the study's data joins completely", f.ID(), f.Unmatched)
		}
		sl, ok := slices[f.Pretraining]
		if !ok {
			sl = [2]int{1, 11}
		}
		ref := referenceFit(t, f.Pretraining, f.Model, f.Prompt, sl[0], sl[1])
		if f.N != ref.n || math.Abs(f.Rho-ref.rho) > 1e-9 {
			t.Errorf("%s: rho %v over %d bins, reference %v over %d", f.ID(), f.Rho, f.N, ref.rho, ref.n)
		}
		if math.Abs(f.SlopePerDecade-ref.slope) > 1e-9 {
			t.Errorf("%s: slope per decade %v, reference %v", f.ID(), f.SlopePerDecade, ref.slope)
		}
		for i, b := range f.Bins {
			if (math.IsNaN(ref.means[i]) != math.IsNaN(b.Mean)) || (!math.IsNaN(b.Mean) && math.Abs(b.Mean-ref.means[i]) > 1e-9) {
				t.Errorf("%s bin %d: mean %v, reference %v", f.ID(), i, b.Mean, ref.means[i])
			}
		}
		golden[f.ID()+"/rho"] = round(f.Rho)
		golden[f.ID()+"/slope_per_decade"] = round(f.SlopePerDecade)
		checked++
	}
	if checked != 33 {
		t.Fatalf("checked %d paper-mode fits, want 11 pairs × 3 prompts = 33", checked)
	}
	checkGolden(t, "../../testdata/fit/golden.json", golden)
}

func round(v float64) float64 { return math.Round(v*1e6) / 1e6 }

// checkGolden pins the values in the golden file at path; -update rewrites
// it, but only when the values agreed with the independent reference.
func checkGolden(t *testing.T, path string, got map[string]float64) {
	t.Helper()
	if *update {
		if t.Failed() {
			t.Fatal("not updating the golden file: the fits disagree with the reference implementation")
		}
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./transforms/scalinglaw -run 'TestReproducesStudy' -update)", err)
	}
	var want map[string]float64
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != len(got) {
		t.Errorf("golden has %d values, run produced %d", len(want), len(got))
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || math.Abs(g-w) > 1e-6 {
			t.Errorf("%s: got %v, golden %v", k, g, w)
		}
	}
}

func TestOutputsPlotsAndReport(t *testing.T) {
	paperDir(t)
	cfg := defaultConfig(t)
	cfg.Pairs = []paper.Pair{{Pretraining: "cc3m", Model: "RN50"}, {Pretraining: "cc3m", Model: "ViT-B-16"}, {Pretraining: "laion400m", Model: "ViT-B-32"}}
	cfg.Prompts = []string{"class"}
	res, err := fitAndWrite(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// 3 pairs × 1 prompt × 3 kinds × 2 modes.
	if len(res.Fits) != 18 {
		t.Errorf("got %d fits, want 18", len(res.Fits))
	}
	report, err := os.ReadFile(filepath.Join(cfg.Output, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Fits {
		if !bytes.Contains(report, []byte(`id="`+f.ID()+`"`)) {
			t.Errorf("report does not reference fit %s", f.ID())
		}
	}
	if bytes.Contains(report, []byte(`src="plots/`)) || !bytes.Contains(report, []byte("data:image/png;base64,")) {
		t.Error("report is not self-contained")
	}
	// The result first, then matched → text → image.
	order := []string{`id="headline"`, `id="headline-table"`, `<h2 id="figures-matched">Matched frequency</h2>`, `<h2 id="figures-text">Text frequency</h2>`, `<h2 id="figures-image">Image frequency</h2>`, `id="fits"`}
	last := -1
	for _, o := range order {
		i := bytes.Index(report, []byte(o))
		if i < 0 || i < last {
			t.Errorf("report: %q missing or out of order (at %d, previous at %d)", o, i, last)
		}
		last = i
	}
	pngs, _ := filepath.Glob(filepath.Join(cfg.Output, PlotsDir, "*.png"))
	svgs, _ := filepath.Glob(filepath.Join(cfg.Output, PlotsDir, "*.svg"))
	// accuracy: 2 pretraining × 1 prompt × 3 kinds; long tail: 3 kinds;
	// the headline figure.
	if len(pngs) != 10 || len(svgs) != 10 {
		t.Errorf("got %d PNG and %d SVG plots, want 10 each", len(pngs), len(svgs))
	}
	for _, p := range pngs {
		if filepath.Base(p) == HeadlineFigure+".png" {
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			c, err := png.DecodeConfig(f)
			f.Close()
			// One panel per pretraining dataset (cc3m, laion400m): 2 × 5.2 in by 3.9 in at 96 dpi.
			if err != nil || c.Width != 998 || c.Height != 374 {
				t.Errorf("headline figure: %v, %dx%d; want 998x374 (two panels)", err, c.Width, c.Height)
			}
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		cfgImg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil || cfgImg.Width != 672 || cfgImg.Height != 432 {
			t.Errorf("%s: %v, %dx%d; want a 672x432 PNG (7x4.5 in at 96 dpi)", p, err, cfgImg.Width, cfgImg.Height)
		}
	}
	for _, s := range svgs {
		b, _ := os.ReadFile(s)
		if !bytes.Contains(b, []byte("<svg")) || !bytes.HasSuffix(bytes.TrimSpace(b), []byte("</svg>")) {
			t.Errorf("%s is not a complete SVG", s)
		}
	}
	for _, name := range []string{FitsFile, BinsFile, LongTailFile, TailFile, CrossFile, UnmatchedFile} {
		b, err := os.ReadFile(filepath.Join(cfg.Output, name))
		if err != nil || !bytes.HasPrefix(b, []byte("PAR1")) {
			t.Errorf("%s: %v", name, err)
		}
	}
	tails, _ := filepath.Glob(filepath.Join(cfg.Output, "tail_*.txt"))
	if len(tails) != 6 {
		t.Errorf("got %d tail lists, want 6 (2 pretraining × 3 kinds)", len(tails))
	}
}

// A generic performance table joined with our own concept_counts.parquet:
// the metric is planted as 10 + 4·log10(count), so the per-concept slope
// must be 4 exactly and the unknown concept reported, not dropped.
func TestOwnCountsAndGenericPerformance(t *testing.T) {
	cfg := writeOwnInputs(t, t.TempDir(), 60, 10, "m1,mycrawl,ds,not_counted,50,class\n")
	res, err := fitAndWrite(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var pc *Fit
	for _, f := range res.Fits {
		if f.Mode == ModePerConcept {
			pc = f
		}
	}
	if pc == nil || math.Abs(pc.SlopePerDecade-4) > 1e-9 || math.Abs(pc.Rho-1) > 1e-9 || pc.N != 60 || pc.Unmatched != 1 {
		t.Fatalf("got %+v, want slope 4, rho 1, n 60, 1 unmatched", pc)
	}
	if len(res.Unmatched) != 1 || res.Unmatched[0].Concept != "not_counted" {
		t.Errorf("unmatched: got %+v", res.Unmatched)
	}
	// image counts are null in a text-only run: asking for them is an
	// error that names the flag value to use; by default the text counts
	// are fitted.
	for _, kind := range []paper.CountKind{paper.Image, paper.Matched} {
		cfg.CountKind = kind
		if _, err := LoadAndFit(ctx, cfg); err == nil || !strings.Contains(err.Error(), "--count_kind=text") {
			t.Errorf("%s kind on text-only counts: got %v, want an error naming --count_kind=text", kind, err)
		}
	}
	cfg.CountKind = ""
	if res, err := LoadAndFit(ctx, cfg); err != nil || res.CountsKind != paper.Text {
		t.Errorf("default kind on text-only counts: got %v, %v; want the text counts", res.CountsKind, err)
	}
}

func TestLongTailAndCross(t *testing.T) {
	paperDir(t)
	cfg := defaultConfig(t)
	cfg.Prompts = []string{"class"}
	cfg.Kinds = []paper.CountKind{paper.Matched}
	res, err := LoadAndFit(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.LongTail) != 5 {
		t.Fatalf("got %d long-tail rows, want one per pretraining dataset (5)", len(res.LongTail))
	}
	for _, lt := range res.LongTail {
		if lt.FitErr != "" || lt.Fit.Alpha <= 1 || lt.Concepts < 4000 {
			t.Errorf("%s: %+v", lt.Pretraining, lt.Fit)
		}
		if !sort.IsSorted(sort.Reverse(sort.Float64Slice(lt.Sorted))) {
			t.Errorf("%s: rank-frequency not descending", lt.Pretraining)
		}
	}
	// 10 pairs of 5 pretraining datasets; frequencies agree strongly.
	if len(res.Cross) != 10 {
		t.Fatalf("got %d cross-dataset rows, want 10", len(res.Cross))
	}
	for _, c := range res.Cross {
		if c.N < 4000 || c.Spearman < 0.5 {
			t.Errorf("%s vs %s: n=%d spearman=%v", c.A, c.B, c.N, c.Spearman)
		}
	}
	tails := map[string]int{}
	for _, r := range res.Tail {
		if r.Count > 0 {
			tails[r.Pretraining]++
		}
	}
	for pre, n := range tails {
		if n != cfg.TailK {
			t.Errorf("%s: %d tail concepts, want %d", pre, n, cfg.TailK)
		}
	}
}

// The generic performance table may be Parquet as well as CSV.
func TestPerformanceParquet(t *testing.T) {
	dir := t.TempDir()
	var b bytes.Buffer
	rows := []tables.ConceptCount{}
	var models, pres, dss, concepts []string
	var metrics []float64
	for i := 0; i < 30; i++ {
		name := fmt.Sprintf("c%d", i)
		c := int64(1) << (i % 20)
		rows = append(rows, tables.ConceptCount{Concept: name, TextCount: c})
		models, pres, dss, concepts = append(models, "m"), append(pres, "crawl"), append(dss, "ds"), append(concepts, name)
		metrics = append(metrics, 20+2*math.Log10(float64(c)))
	}
	if err := tables.WriteConceptCounts(&b, rows, nil); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "counts.parquet"), b.Bytes(), 0o644)
	b.Reset()
	if err := tables.WriteColumns(&b, "perf", []tables.Column{{Name: "model", Strings: models}, {Name: "pretraining", Strings: pres},
		{Name: "dataset", Strings: dss}, {Name: "concept", Strings: concepts}, {Name: "metric", Float64s: metrics}}, nil); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "perf.parquet"), b.Bytes(), 0o644)
	cfg := defaultConfig(t)
	cfg.PaperDir, cfg.CountsPath, cfg.CountKind = "", filepath.Join(dir, "counts.parquet"), paper.Text
	cfg.PerformancePath = filepath.Join(dir, "perf.parquet")
	res, err := LoadAndFit(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Fits {
		if f.Mode == ModePerConcept && (math.Abs(f.SlopePerDecade-2) > 1e-9 || f.N != 30 || f.Prompt != "default") {
			t.Errorf("got %+v, want slope 2 over 30 concepts, prompt default", f)
		}
	}
}

// Our own counts ("*": one map for every downstream dataset) correlate with
// a study dataset whichever side of the pair they sort to.
func TestCrossDatasetWithOwnCounts(t *testing.T) {
	mk := func(v map[string]float64) *paper.Counts {
		c := &paper.Counts{Values: v}
		for k := range v {
			c.Names = append(c.Names, k)
		}
		sort.Strings(c.Names)
		return c
	}
	ours := mk(map[string]float64{"dog": 10, "cat": 5, "eel": 1, "ant": 7})
	res := &Results{freq: map[string]map[string]*paper.Counts{
		"aaa-mine|matched": {"*": ours},
		"cc3m|matched":     {"pets": mk(map[string]float64{"dog": 100, "cat": 50}), "bugs": mk(map[string]float64{"ant": 70, "eel": 10})},
	}}
	res.crossDataset(Config{})
	if len(res.Cross) != 1 || res.Cross[0].N != 4 || math.Abs(res.Cross[0].Spearman-1) > 1e-12 {
		t.Fatalf("got %+v, want 4 joined concepts with Spearman 1", res.Cross)
	}
}

// writeOwnInputs writes n concepts' counts (10^(i/per)) and a performance
// CSV whose rows are the given extra lines after a clean log-linear block
// (metric 10 + 4·log10 count).
func writeOwnInputs(t *testing.T, dir string, n, per int, extra string) Config {
	t.Helper()
	rows := []tables.ConceptCount{}
	var csv strings.Builder
	csv.WriteString("model,pretraining,dataset,concept,metric,prompt\n")
	for i := 0; i < n; i++ {
		c := int64(math.Pow(10, float64(i)/float64(per)))
		name := fmt.Sprintf("concept%02d", i)
		rows = append(rows, tables.ConceptCount{Concept: name, TextCount: c})
		fmt.Fprintf(&csv, "m1,mycrawl,ds,%s,%g,class\n", name, 10+4*math.Log10(float64(c)))
	}
	csv.WriteString(extra)
	var b bytes.Buffer
	if err := tables.WriteConceptCounts(&b, rows, nil); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "counts.parquet"), b.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "perf.csv"), []byte(csv.String()), 0o644)
	cfg := defaultConfig(t)
	cfg.PaperDir = ""
	cfg.CountsPath, cfg.CountKind = filepath.Join(dir, "counts.parquet"), paper.Text
	cfg.PerformancePath = filepath.Join(dir, "perf.csv")
	return cfg
}

// NaN, ±Inf and empty metrics are dropped and accounted for, and every
// output is written (the plotter used to crash on them half-way).
func TestNonFiniteMetricsAreDropped(t *testing.T) {
	cfg := writeOwnInputs(t, t.TempDir(), 30, 6, "m1,mycrawl,ds,concept01,NaN,simple\nm1,mycrawl,ds,concept02,+Inf,simple\nm1,mycrawl,ds,concept03,,simple\nm1,mycrawl,ds,concept04,-inf,ensemble\n")
	res, err := fitAndWrite(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Dropped) != 4 {
		t.Fatalf("dropped %d rows, want 4: %+v", len(res.Dropped), res.Dropped)
	}
	for _, f := range res.Fits {
		if f.Prompt == "class" && f.Mode == ModePerConcept && (f.N != 30 || math.Abs(f.SlopePerDecade-4) > 1e-9) {
			t.Errorf("class fit: n=%d slope=%v, want 30 concepts, slope 4", f.N, f.SlopePerDecade)
		}
		if f.Prompt == "ensemble" {
			t.Errorf("a fit of the ensemble prompt, whose only row is -Inf: %+v", f)
		}
	}
	for _, name := range []string{FitsFile, DroppedFile, ReportFile, UnmatchedFile} {
		if _, err := os.Stat(filepath.Join(cfg.Output, name)); err != nil {
			t.Errorf("%s not written: %v", name, err)
		}
	}
	var b strings.Builder
	PrintSummary(&b, res, cfg)
	if !strings.Contains(b.String(), "4 performance rows dropped: missing or non-finite metric") {
		t.Errorf("summary does not explain the dropped rows:\n%s", b.String())
	}
}

// Wrong or empty inputs are errors that say what is wrong, and leave the
// output directory empty.
func TestBadInputsSayWhatIsWrong(t *testing.T) {
	dir := t.TempDir()
	var rej bytes.Buffer
	rw, err := tables.NewRejectWriter(&rej, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := rw.Close(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "rejects.parquet"), rej.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("just text"), 0o644)
	os.WriteFile(filepath.Join(dir, "header.csv"), []byte("model,pretraining,dataset,concept,metric\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "other.csv"), []byte("name,score\ndog,1\n"), 0o644)
	for _, tc := range []struct {
		name        string
		counts      string
		performance string
		want        []string
	}{
		{"counts are rejects", "rejects.parquet", "", []string{"not a concept_counts.parquet", "shard:utf8", "want [concept:utf8 text_count:int64"}},
		{"counts are text", "notes.txt", "", []string{"not a concept_counts.parquet", "not a readable Parquet file"}},
		{"header-only performance", "", "header.csv", []string{"header.csv has the columns", "but no rows"}},
		{"wrong performance table", "", "other.csv", []string{"not a performance table", "no column model, pretraining, dataset, concept, metric", "found [name score]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := writeOwnInputs(t, t.TempDir(), 30, 6, "")
			if tc.counts != "" {
				cfg.CountsPath = filepath.Join(dir, tc.counts)
			}
			if tc.performance != "" {
				cfg.PerformancePath = filepath.Join(dir, tc.performance)
			}
			_, err := fitAndWrite(t, cfg)
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("got %v, want an error containing %q", err, w)
				}
			}
			if entries, _ := os.ReadDir(cfg.Output); len(entries) != 0 {
				t.Errorf("%d files left in the output after the error", len(entries))
			}
		})
	}
	if _, err := paper.ReadPerformance(ctx, filepath.Join(dir, "header.csv")); !errors.Is(err, paper.ErrEmpty) {
		t.Errorf("header-only: got %v, want ErrEmpty", err)
	}
}

// A count run named like one of the study's pretraining datasets is fitted
// against the study's accuracies, and the headline puts the study's own
// value (from its released counts) beside it.
func TestHeadlineComparesWithTheStudy(t *testing.T) {
	dir := paperDir(t)
	cfg := defaultConfig(t)
	cfg.Pairs = []paper.Pair{{Pretraining: "cc3m", Model: "RN50"}}
	cfg.Prompts = []string{"class"}
	cfg.Kinds = []paper.CountKind{paper.Matched}
	study, err := LoadAndFit(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// "Our" counts: the study's, doubled (a shift in log frequency), one
	// table for all datasets as a count run writes it.
	seen := map[string]bool{}
	var rows []tables.ConceptCount
	for _, ds := range paper.Datasets {
		c, err := paper.ReadCounts(ctx, filepath.Join(dir, "search_counts", paper.SearchCountsFile(ds, "cc3m", paper.Matched, "0.7")))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range c.Names {
			if !seen[n] {
				seen[n] = true
				v := int64(2 * c.Values[n])
				rows = append(rows, tables.ConceptCount{Concept: n, TextCount: v, MatchedCount: &v})
			}
		}
	}
	var b bytes.Buffer
	if err := tables.WriteConceptCounts(&b, rows, nil); err != nil {
		t.Fatal(err)
	}
	cfg.CountsPath = filepath.Join(t.TempDir(), "concept_counts.parquet")
	os.WriteFile(cfg.CountsPath, b.Bytes(), 0o644)
	cfg.CountKind, cfg.CountsPretraining = "", "cc3m"
	res, err := LoadAndFit(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	head := Headline(res)
	studyHead := Headline(study)
	if len(head) != 2 || len(studyHead) != 1 {
		t.Fatalf("headline rows: %d and %d, want 2 (this run's, then the study's) and 1", len(head), len(studyHead))
	}
	if head[1].Own() || head[1].Rho != studyHead[0].Rho || head[1].HasStudy() {
		t.Errorf("second headline row %+v, want the study's own fit (ρ %v) without a comparison column", head[1], studyHead[0].Rho)
	}
	h := head[0]
	if !h.Own() || !h.HasStudy() || h.StudyRho != studyHead[0].Rho || h.StudySlope != studyHead[0].Slope {
		t.Errorf("got %+v, want this run's fit with the study's ρ %v and slope %v beside it", h, studyHead[0].Rho, studyHead[0].Slope)
	}
	if math.IsNaN(h.DeltaRho()) || math.Abs(h.DeltaRho()) > 0.05 {
		t.Errorf("Δρ %v: doubling the counts should barely move ρ", h.DeltaRho())
	}
	if l := Lede(head); !strings.Contains(l, "cc3m RN50: ρ") || !strings.Contains(l, "vs the study's") {
		t.Errorf("lede does not compare with the study: %s", l)
	}
}

// A count run's counts are fitted as their own rows beside the study's,
// never in their place, whatever pretraining name they join; a counts file
// that joins nothing is an error naming the names that exist.
func TestOwnCountsBesideTheStudys(t *testing.T) {
	dir := paperDir(t)
	cfg := defaultConfig(t)
	cfg.Pairs = []paper.Pair{{Pretraining: "cc3m", Model: "RN50"}, {Pretraining: "laion400m", Model: "ViT-B-32"}}
	cfg.Prompts = []string{"class"}
	cfg.Kinds = []paper.CountKind{paper.Matched}
	study, err := LoadAndFit(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := paper.ReadCounts(ctx, filepath.Join(dir, "search_counts", paper.SearchCountsFile("imagenet", "laion400m", paper.Matched, "0.7")))
	if err != nil {
		t.Fatal(err)
	}
	var rows []tables.ConceptCount
	for _, n := range c.Names {
		rows = append(rows, tables.ConceptCount{Concept: n, TextCount: int64(3 * c.Values[n])})
	}
	var b bytes.Buffer
	if err := tables.WriteConceptCounts(&b, rows, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(t.TempDir(), "mycrawl"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg.CountsPath = filepath.Join(t.TempDir(), "mycrawl", "concept_counts.parquet")
	os.MkdirAll(filepath.Dir(cfg.CountsPath), 0o755)
	os.WriteFile(cfg.CountsPath, b.Bytes(), 0o644)

	// The default pretraining name joins nothing with the study's data
	// alone: an error that lists the names there are.
	if _, err := LoadAndFit(ctx, cfg); err == nil || !strings.Contains(err.Error(), "--counts_pretraining") || !strings.Contains(err.Error(), "cc3m, laion400m") {
		t.Errorf("got %v, want an error asking for --counts_pretraining and naming cc3m, laion400m", err)
	}
	cfg.CountsPretraining = "conceptfreq"
	if _, err := LoadAndFit(ctx, cfg); err == nil || !strings.Contains(err.Error(), `"conceptfreq"`) || !strings.Contains(err.Error(), "cc3m, laion400m") {
		t.Errorf("got %v, want an error naming the missing name and the ones there are", err)
	}
	cfg.CountsPretraining = "laion400m"
	res, err := LoadAndFit(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.CountsName != "mycrawl" || res.CountsKind != paper.Text {
		t.Errorf("counts named %q, kind %q; want mycrawl (the directory) and text (the file has no image counts)", res.CountsName, res.CountsKind)
	}
	if len(res.Fits) != len(study.Fits)+2 {
		t.Fatalf("%d fits, want the study's %d and 2 of this run's", len(res.Fits), len(study.Fits))
	}
	for i, f := range res.Fits {
		own := f.Own()
		if own != (i < 2) {
			t.Errorf("fit %d %s: this run's rows must come first", i, f.ID())
		}
		if own && (f.Counts != "mycrawl" || f.Pretraining != "laion400m" || f.Kind != "text" || f.Concepts < 1000) {
			t.Errorf("own fit %s: counts %s, pretraining %s, kind %s, %d concepts; want mycrawl's text counts against laion400m's performance, ≥ 1,000 classes (imagenet's)", f.ID(), f.Counts, f.Pretraining, f.Kind, f.Concepts)
		}
		if !own && f.Counts != SourceStudy {
			t.Errorf("study fit %s: counts %q", f.ID(), f.Counts)
		}
	}
	for i, f := range study.Fits {
		g := res.Fits[i+2]
		if g.ID() != f.ID() || g.Rho != f.Rho && !(math.IsNaN(g.Rho) && math.IsNaN(f.Rho)) {
			t.Errorf("study fit %s changed with --counts: ρ %v, want %v", f.ID(), g.Rho, f.Rho)
		}
	}
	var sum strings.Builder
	PrintSummary(&sum, res, cfg)
	if !strings.Contains(sum.String(), cfg.CountsPath) || !strings.Contains(sum.String(), `as "mycrawl"`) {
		t.Errorf("summary does not name the counts file:\n%s", sum.String())
	}
	cfg.CountsName = "cc3m"
	if _, err := LoadAndFit(ctx, cfg); err == nil || !strings.Contains(err.Error(), "--counts_name=cc3m") {
		t.Errorf("a counts name of the study's: got %v", err)
	}
}

func TestCountsLabel(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"out/mycrawl/concept_counts.parquet", "mycrawl"},
		{"gs://b/counts/2026-11/concept_counts.parquet", "2026-11"},
		{"concept_counts.parquet", "concept_counts"},
		{"/data/laion_counts.parquet", "laion_counts"},
	} {
		if got := CountsLabel(tc.path); got != tc.want {
			t.Errorf("CountsLabel(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

// referenceRetrievalFit is the study's retrieval procedure written plainly
// from its description (README of ../shared/data): for each concept of the
// COCO and Flickr counts files that has a recall under the first model key
// holding both names (file order), x = ln(max(count, 1)), y = recall; 7 bin
// edges linspace(min, max); digitize(right=True); bin means; Pearson and
// OLS slope over the kept bins' edges and means.
func referenceRetrievalFit(t *testing.T, pre, model, metricFile string, lo, hi int) reference {
	t.Helper()
	var xs, ys []float64
	for _, ds := range []string{"coco", "flickr"} {
		var counts map[string]float64
		b, err := os.ReadFile(filepath.Join(paperDir(t), "search_counts", ds+"_"+pre+"_integrated_tlemmatized_i0.7_search_counts.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &counts); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(filepath.Join(paperDir(t), "retrieval_evaluations", ds+"_"+metricFile+"_results.json"))
		if err != nil {
			t.Fatal(err)
		}
		var results map[string]struct {
			Conceptwise map[string]float64 `json:"conceptwise"`
		}
		if err := json.Unmarshal(raw, &results); err != nil {
			t.Fatal(err)
		}
		keyRE := regexp.MustCompile(`"(backbone[^"]*)"\s*:`)
		var chosen string
		for _, m := range keyRE.FindAllSubmatch(raw, -1) {
			if k := string(m[1]); strings.Contains(k, "backbone"+model+"_") && strings.Contains(k, "pretrained"+pre) {
				chosen = k
				break
			}
		}
		if chosen == "" {
			t.Fatalf("%s %s: no model key for %s/%s", ds, metricFile, model, pre)
		}
		for concept, c := range counts {
			r, ok := results[chosen].Conceptwise[concept]
			if !ok {
				continue
			}
			xs = append(xs, math.Log(math.Max(c, 1)))
			ys = append(ys, r)
		}
	}
	const nb = 7
	mn, mx := xs[0], xs[0]
	for _, x := range xs {
		mn, mx = math.Min(mn, x), math.Max(mx, x)
	}
	edges := make([]float64, nb)
	for i := range edges {
		edges[i] = mn + float64(i)*(mx-mn)/(nb-1)
	}
	edges[nb-1] = mx
	sums, ns := make([]float64, nb), make([]int, nb)
	for i, x := range xs {
		bin := 0
		for _, e := range edges {
			if e < x {
				bin++
			}
		}
		sums[bin] += ys[i]
		ns[bin]++
	}
	ref := reference{means: make([]float64, nb), n: 0}
	var ex, ey []float64
	for i := range edges {
		ref.means[i] = math.NaN()
		if ns[i] > 0 {
			ref.means[i] = sums[i] / float64(ns[i])
		}
		if i >= lo && i < hi && ns[i] > 0 {
			ex, ey = append(ex, edges[i]), append(ey, ref.means[i])
		}
	}
	var sx, sy, sxx, syy, sxy float64
	n := float64(len(ex))
	for i := range ex {
		sx, sy = sx+ex[i], sy+ey[i]
		sxx, syy, sxy = sxx+ex[i]*ex[i], syy+ey[i]*ey[i], sxy+ex[i]*ey[i]
	}
	ref.rho = (n*sxy - sx*sy) / math.Sqrt((n*sxx-sx*sx)*(n*syy-sy*sy))
	ref.slope = (n*sxy - sx*sy) / (n*sxx - sx*sx) * math.Log(10)
	ref.n = len(ex)
	return ref
}

// The study's retrieval fits: 11 model/pretraining pairs × 6 metrics, COCO
// and Flickr pooled, 7 bins, bins 1..5 in the correlation (the default
// --retrieval_bin_slice), against the plain re-implementation, slopes and
// bin means included; the values are pinned in golden_retrieval.json.
func TestReproducesStudyRetrieval(t *testing.T) {
	cfg := defaultConfig(t)
	cfg.Kinds = []paper.CountKind{paper.Matched}
	cfg.Prompts = []string{"class"} // the classification side is TestReproducesStudy's
	cfg.Retrieval, cfg.RetrievalBins, cfg.RetrievalKind = true, 7, paper.Matched
	var err error
	if cfg.RetrievalSlice, err = fitstats.ParseSlice("1:-1"); err != nil {
		t.Fatal(err)
	}
	res, err := LoadAndFit(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, m := range paper.RetrievalMetrics {
		files[m.Name] = m.File
	}
	golden := map[string]float64{}
	checked := 0
	for _, f := range res.Retrieval {
		if f.Task != TaskRetrieval || files[f.Metric] == "" {
			t.Errorf("%s: task %q metric %q", f.ID(), f.Task, f.Metric)
		}
		if f.Mode != ModePaperBins {
			continue
		}
		ref := referenceRetrievalFit(t, f.Pretraining, f.Model, files[f.Metric], 1, 6)
		if f.Err != "" || f.N != ref.n || math.Abs(f.Rho-ref.rho) > 1e-9 || math.Abs(f.SlopePerDecade-ref.slope) > 1e-9 {
			t.Errorf("%s: rho %v slope %v over %d bins (%s), reference %v, %v over %d", f.ID(), f.Rho, f.SlopePerDecade, f.N, f.Err, ref.rho, ref.slope, ref.n)
		}
		if len(f.Bins) != 7 {
			t.Fatalf("%s: %d bins, want 7", f.ID(), len(f.Bins))
		}
		for i, b := range f.Bins {
			if (math.IsNaN(ref.means[i]) != math.IsNaN(b.Mean)) || (!math.IsNaN(b.Mean) && math.Abs(b.Mean-ref.means[i]) > 1e-9) {
				t.Errorf("%s bin %d: mean %v, reference %v", f.ID(), i, b.Mean, ref.means[i])
			}
		}
		golden[f.ID()+"/rho"] = round(f.Rho)
		golden[f.ID()+"/slope_per_decade"] = round(f.SlopePerDecade)
		checked++
	}
	if checked != 66 {
		t.Fatalf("checked %d retrieval paper-mode fits, want 11 pairs × 6 metrics = 66", checked)
	}
	checkGolden(t, "../../testdata/fit/golden_retrieval.json", golden)
}

// A retrieval evaluation's performance table (pipelines/eval
// --task=retrieval: a task column, the metric's name in prompt) is read as
// it is: its rows are retrieval fits, one per metric, binned with the
// retrieval bins, beside the classification rows of the same table.
func TestRetrievalPerformanceRows(t *testing.T) {
	dir := t.TempDir()
	cfg := writeOwnInputs(t, dir, 60, 10, "")
	b, _ := os.ReadFile(cfg.PerformancePath)
	var csv strings.Builder
	csv.WriteString("model,pretraining,dataset,concept,metric,prompt,task\n")
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n")[1:] {
		csv.WriteString(line + ",classification\n")
		f := strings.Split(line, ",")
		v, _ := strconv.ParseFloat(f[4], 64)
		fmt.Fprintf(&csv, "%s,%s,coco,%s,%g,t2i_recall@1,retrieval\n", f[0], f[1], f[3], v/100)
	}
	os.WriteFile(cfg.PerformancePath, []byte(csv.String()), 0o644)
	cfg.RetrievalBins = 7
	var err error
	if cfg.RetrievalSlice, err = fitstats.ParseSlice("1:-1"); err != nil {
		t.Fatal(err)
	}
	res, err := fitAndWrite(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	tasks := map[string]int{}
	for _, f := range res.Fits {
		tasks[f.Task+"/"+f.Metric+"/"+f.Mode]++
		if f.Task == TaskRetrieval {
			if f.Prompt != "" || f.Metric != "t2i_recall@1" {
				t.Errorf("retrieval fit %s: prompt %q metric %q", f.ID(), f.Prompt, f.Metric)
			}
			if f.Mode == ModePaperBins && (len(f.Bins) != 7 || f.BinSlice != "[1:-1]") {
				t.Errorf("retrieval paper-bins fit: %d bins, slice %s; want 7, [1:-1]", len(f.Bins), f.BinSlice)
			}
			if f.Mode == ModePerConcept && math.Abs(f.SlopePerDecade-0.04) > 1e-9 {
				t.Errorf("retrieval per-concept slope %v, want 0.04 (recall fractions)", f.SlopePerDecade)
			}
		}
	}
	want := map[string]int{"classification/top1/paper-bins": 1, "classification/top1/per-concept": 1,
		"retrieval/t2i_recall@1/paper-bins": 1, "retrieval/t2i_recall@1/per-concept": 1}
	if !reflect.DeepEqual(tasks, want) {
		t.Errorf("fits by task/metric/mode: %v, want %v", tasks, want)
	}
}

// A performance row repeated with another metric is an error naming both
// rows; --duplicates=first fits the first and lists the other in
// dropped.parquet, --duplicates=mean fits the mean; a NaN duplicate never
// vanishes (an error, or a dropped row). A concept with two rows in a
// counts file is an error too.
func TestDuplicateRowsAreNeverSilent(t *testing.T) {
	extra := "m1,mycrawl,ds,concept05,99,class\nm1,mycrawl,ds,concept07,NaN,class\n"
	cfg := writeOwnInputs(t, t.TempDir(), 30, 6, extra)
	_, err := LoadAndFit(ctx, cfg)
	if err == nil || !strings.Contains(err.Error(), "rows 6 and 31") || !strings.Contains(err.Error(), `concept "concept05"`) ||
		!strings.Contains(err.Error(), "rows 8 and 32") || !strings.Contains(err.Error(), "--duplicates=first") {
		t.Fatalf("duplicated performance rows: %v; want an error naming rows 6 and 31, 8 and 32 and the flag", err)
	}
	metricOf := func(res *Results, concept string) float64 {
		rows, err := paper.ReadPerformance(ctx, cfg.PerformancePath)
		if err != nil {
			t.Fatal(err)
		}
		sets, err := (&Results{}).groupPerformance(rows, cfg.Duplicates)
		if err != nil {
			t.Fatal(err)
		}
		for _, set := range sets {
			if set.Prompt == "class" {
				return set.ByDataset["ds"][concept]
			}
		}
		return math.NaN()
	}
	clean := 10 + 4*math.Log10(float64(int64(math.Pow(10, 5.0/6))))
	for _, tc := range []struct {
		rule    string
		want    float64
		dropped int
	}{{DuplicatesFirst, clean, 2}, {DuplicatesMean, (clean + 99) / 2, 1}} {
		cfg.Duplicates = tc.rule
		res, err := LoadAndFit(ctx, cfg)
		if err != nil {
			t.Fatalf("--duplicates=%s: %v", tc.rule, err)
		}
		if got := metricOf(res, "concept05"); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("--duplicates=%s: concept05 fitted at %v, want %v", tc.rule, got, tc.want)
		}
		if len(res.Dropped) != tc.dropped {
			t.Errorf("--duplicates=%s: %d rows dropped, want %d: %+v", tc.rule, len(res.Dropped), tc.dropped, res.Dropped)
		}
		nan := false
		for _, d := range res.Dropped {
			nan = nan || d.Concept == "concept07" && d.Metric == "NaN"
		}
		if !nan {
			t.Errorf("--duplicates=%s: the NaN duplicate of concept07 is not in dropped: %+v", tc.rule, res.Dropped)
		}
	}
	cfg.Duplicates = "last"
	if _, err := LoadAndFit(ctx, cfg); err == nil || !strings.Contains(err.Error(), `"last"`) {
		t.Errorf("--duplicates=last: %v; want an error naming the rule", err)
	}

	var b bytes.Buffer
	if err := tables.WriteConceptCounts(&b, []tables.ConceptCount{{Concept: "concept01", TextCount: 3}, {Concept: "concept02", TextCount: 4}, {Concept: "concept01", TextCount: 9}}, nil); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(cfg.CountsPath, b.Bytes(), 0o644)
	cfg.Duplicates = ""
	if _, err := LoadAndFit(ctx, writeOwnInputsAt(cfg)); err == nil || !strings.Contains(err.Error(), `"concept01" has two rows (1 and 3)`) {
		t.Errorf("a counts file with a concept twice: %v; want an error naming it and its rows", err)
	}
}

// writeOwnInputsAt is cfg with the performance table's duplicates gone
// (the first 30 rows), so that only the counts file is at fault.
func writeOwnInputsAt(cfg Config) Config {
	b, _ := os.ReadFile(cfg.PerformancePath)
	lines := strings.SplitAfter(string(b), "\n")
	p := filepath.Join(filepath.Dir(cfg.PerformancePath), "perf-clean.csv")
	os.WriteFile(p, []byte(strings.Join(lines[:31], "")), 0o644)
	cfg.PerformancePath = p
	return cfg
}

// Finite but absurd metrics (1e308) overflow the fit: every fit they enter
// says so in its error (never a row with an empty error and non-finite
// figures), and the plots and report are still written.
func TestAbsurdMetricsFailTheirFitsNotTheRun(t *testing.T) {
	var extra strings.Builder
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&extra, "m1,mycrawl,ds,concept%02d,%g,simple\n", i, 1e308*float64(i%2))
	}
	cfg := writeOwnInputs(t, t.TempDir(), 30, 6, extra.String())
	res, err := fitAndWrite(t, cfg)
	if err != nil {
		t.Fatalf("absurd metrics failed the run: %v", err)
	}
	seen := 0
	for _, f := range res.Fits {
		finiteFigures := finite(f.SlopePerDecade) && finite(f.Intercept)
		if f.Err == "" && !finiteFigures {
			t.Errorf("%s: non-finite figures (slope %v) with an empty error", f.ID(), f.SlopePerDecade)
		}
		if f.Prompt == "simple" && f.Mode == ModePaperBins {
			seen++
			if !strings.Contains(f.Err, "overflowed") {
				t.Errorf("%s: error %q, want one saying the fit overflowed", f.ID(), f.Err)
			}
		}
		if f.Prompt == "class" && f.Err != "" {
			t.Errorf("%s: the clean fit failed: %s", f.ID(), f.Err)
		}
	}
	if seen == 0 {
		t.Errorf("no paper-bins fit of the absurd prompt: %d fits", len(res.Fits))
	}
	if _, err := os.Stat(filepath.Join(cfg.Output, ReportFile)); err != nil {
		t.Errorf("report not written: %v", err)
	}
}
