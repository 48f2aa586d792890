// Command fit relates concept frequency to zero-shot performance: it
// reproduces the study's binned log-linear fits (arXiv 2404.04125) from its
// released data, adds per-concept regressions, long-tail statistics and
// plots, and writes Parquet tables and a self-contained HTML report.
//
//	go run ./pipelines/fit --paper=DATA --output=out/fit
//	go run ./pipelines/fit --counts=out/mycrawl/concept_counts.parquet \
//	    --performance=perf.csv --output=out/fit-mine
//
// The fit is small (thousands of points), so it runs as plain Go, not Beam;
// transforms/scalinglaw does the work. Inputs and outputs may be local or
// gs:// paths.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/conceptfreq/conceptfreq/internal/cli"
	"github.com/conceptfreq/conceptfreq/io/paper"
	_ "github.com/conceptfreq/conceptfreq/runners" // registers Beam's filesystems (local, gs://, memfs://)
	"github.com/conceptfreq/conceptfreq/transforms/scalinglaw"
	"github.com/conceptfreq/conceptfreq/transforms/scalinglaw/fitstats"
)

var (
	paperDir    = flag.String("paper", "", "the study's released data directory (search_counts/, zero_shot_evaluations/)")
	counts      = flag.String("counts", "", "a concept_counts.parquet written by pipelines/count (local or gs://): fitted as its own rows, beside the study's")
	countKind   = flag.String("count_kind", "", "column of --counts to fit: text, image or matched, or with similarity control text_dissimilar, image_dissimilar or matched_dissimilar (the counts without the near-duplicates of test images); default: matched when the counts file has image-side counts, else text")
	countsPre   = flag.String("counts_pretraining", "", "fit --counts against the performance rows of the models with this pretraining name (default: the one pretraining name of --performance)")
	countsName  = flag.String("counts_name", "", "name of --counts' rows in the outputs (default: the counts file's directory, e.g. mycrawl for out/mycrawl/concept_counts.parquet)")
	performance = flag.String("performance", "", "generic performance table (CSV or Parquet): model, pretraining, dataset, concept, metric[, prompt]")
	duplicates  = flag.String("duplicates", scalinglaw.DuplicatesError, "performance rows that repeat a key (task, model, pretraining, prompt, dataset, concept): error (refuse the table, naming them), first (fit the first; the others go to dropped.parquet) or mean (fit their finite mean)")
	output      = flag.String("output", "out/fit", "output directory (local or gs://)")
	overwrite   = flag.Bool("overwrite", false, "replace outputs in a non-empty --output directory")
	pairs       = flag.String("pairs", pairsString(paper.Pairs), "pretraining:model pairs read from --paper")
	prompts     = flag.String("prompts", strings.Join(paper.Prompts, ","), "prompt styles read from --paper")
	datasets    = flag.String("datasets", strings.Join(paper.Datasets, ","), "downstream datasets")
	kinds       = flag.String("count_kinds", "matched,text,image", "count kinds read from --paper")
	threshold   = flag.String("threshold", "0.7", "tagger threshold in the study's file names (rampp<t>, integrated_tlemmatized_i<t>)")
	nbins       = flag.Int("bins", 12, "paper mode: number of bin edges (numpy linspace)")
	binSlice    = flag.String("bin_slice", "1:-1,laion400m=2:-1,synthci30m=0:-4", "paper mode: bins used in the correlation, default then pretraining=slice overrides (the study's choices)")
	zeros       = flag.String("zeros", "exclude", "per-concept mode: exclude zero counts, or plus1 (log10(count+1))")
	bootstrap   = flag.Int("bootstrap", 1000, "per-concept mode: bootstrap resamples for the slope's 95% CI (0: none)")
	seed        = flag.Uint64("seed", 1, "bootstrap seed")
	aliases     = flag.String("alias", "cifar10:plane=airplane", "comma-separated dataset:performance_name=count_name renames")
	tailK       = flag.Int("tail_k", 50, "long tail: how many least-frequent non-zero concepts to export")
	retrieval   = flag.Bool("retrieval", true, "with --paper: fit the study's retrieval results too (COCO and Flickr concepts pooled, 6 recall metrics)")
	retBins     = flag.Int("retrieval_bins", 7, "retrieval, paper mode: number of bin edges (the study's 7)")
	retSlice    = flag.String("retrieval_bin_slice", "1:-1", "retrieval, paper mode: bins used in the correlation")
	shareBelow  = flag.String("share_below", "10,100,1000", "long tail: report the share of concepts with counts below these")
)

func pairsString(ps []paper.Pair) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.Pretraining+":"+p.Model)
	}
	return strings.Join(s, ",")
}

func list(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

var command = &cli.Command{
	Name:    "fit",
	Summary: "relate concept frequency to zero-shot performance: the study's binned log-linear fits, per-concept fits, long tail, plots and report.html",
	Usage: []string{
		"go run ./pipelines/fit --paper=DATA --output=out/fit          # DATA: the study's released data (bethgelab/frequency_determines_performance)",
		"go run ./pipelines/fit --counts=out/mycrawl/concept_counts.parquet --performance=perf.csv --output=out/fit-mine",
		"go run ./pipelines/fit --paper=DATA --counts=out/laion/concept_counts.parquet --counts_pretraining=laion400m --output=out/fit-laion",
	},
	Groups: []cli.Group{
		{Title: "Inputs", Flags: []string{"paper", "counts", "count_kind", "counts_pretraining", "counts_name", "performance", "duplicates", "alias"}},
		{Title: "The study's data", Flags: []string{"pairs", "prompts", "datasets", "count_kinds", "threshold"}},
		{Title: "Fits", Flags: []string{"bins", "bin_slice", "zeros", "bootstrap", "seed", "tail_k", "share_below"}},
		{Title: "Retrieval", Flags: []string{"retrieval", "retrieval_bins", "retrieval_bin_slice"}},
		{Title: "Output", Flags: []string{"output", "overwrite", "version"}},
	},
}

func main() {
	command.Parse(flag.CommandLine, os.Args[1:], func(w io.Writer) {
		cli.PrintVersions(w, cli.Versions("gonum.org/v1/gonum", "gonum.org/v1/plot", "github.com/apache/arrow-go/v18"))
	})
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "fit:", cli.Message(err))
		os.Exit(1)
	}
}

// ParseFlags turns the flag values into the fit's configuration.
func ParseFlags() (scalinglaw.Config, error) {
	cfg := scalinglaw.Config{PaperDir: *paperDir, CountsPath: *counts, CountKind: paper.CountKind(*countKind), CountsName: *countsName, CountsPretraining: *countsPre,
		PerformancePath: *performance, Duplicates: *duplicates, Output: *output, Prompts: list(*prompts), Datasets: list(*datasets),
		Threshold: *threshold, NBins: *nbins, Zeros: fitstats.ZeroMode(*zeros), Bootstrap: *bootstrap, Seed: *seed,
		TailK: *tailK, Slices: map[string]fitstats.Slice{}, Aliases: map[string]map[string]string{},
		Retrieval: *retrieval && *paperDir != "", RetrievalBins: *retBins, RetrievalKind: paper.Matched}
	{ // also for retrieval rows of --performance (pipelines/eval --task=retrieval)
		sl, err := fitstats.ParseSlice(*retSlice)
		if err != nil {
			return cfg, fmt.Errorf("--retrieval_bin_slice: %w", err)
		}
		cfg.RetrievalSlice = sl
		if cfg.RetrievalBins < 2 {
			return cfg, fmt.Errorf("--retrieval_bins=%d: want at least 2 bin edges", cfg.RetrievalBins)
		}
	}
	if cfg.PaperDir == "" && cfg.PerformancePath == "" {
		return cfg, fmt.Errorf("give --paper=DIR (the study's data) and/or --performance=FILE")
	}
	if cfg.CountsPath == "" && (*countKind != "" || *countsPre != "" || *countsName != "") {
		return cfg, fmt.Errorf("--count_kind, --counts_pretraining and --counts_name describe --counts, which is not given")
	}
	for _, p := range list(*pairs) {
		pre, model, ok := strings.Cut(p, ":")
		if !ok {
			return cfg, fmt.Errorf("--pairs: %q is not pretraining:model", p)
		}
		cfg.Pairs = append(cfg.Pairs, paper.Pair{Pretraining: pre, Model: model})
	}
	for _, k := range list(*kinds) {
		switch paper.CountKind(k) {
		case paper.Matched, paper.Text, paper.Image:
			cfg.Kinds = append(cfg.Kinds, paper.CountKind(k))
		default:
			return cfg, fmt.Errorf("--count_kinds: unknown kind %q (want matched, text, image)", k)
		}
	}
	if cfg.CountKind != "" && !slices.Contains(paper.OurKinds, cfg.CountKind) {
		return cfg, fmt.Errorf("--count_kind: unknown kind %q (want one of %v)", cfg.CountKind, paper.OurKinds)
	}
	if cfg.Zeros != fitstats.ZerosExclude && cfg.Zeros != fitstats.ZerosPlusOne {
		return cfg, fmt.Errorf("--zeros: %q (want exclude or plus1)", cfg.Zeros)
	}
	for i, s := range list(*binSlice) {
		name, spec, named := strings.Cut(s, "=")
		if !named {
			spec = name
		}
		sl, err := fitstats.ParseSlice(spec)
		if err != nil {
			return cfg, fmt.Errorf("--bin_slice: %w", err)
		}
		switch {
		case named:
			cfg.Slices[name] = sl
		case i == 0:
			cfg.DefaultSlice = sl
		default:
			return cfg, fmt.Errorf("--bin_slice: %q: only the first entry may omit pretraining=", s)
		}
	}
	for _, a := range list(*aliases) {
		ds, rest, ok1 := strings.Cut(a, ":")
		from, to, ok2 := strings.Cut(rest, "=")
		if !ok1 || !ok2 {
			return cfg, fmt.Errorf("--alias: %q is not dataset:performance_name=count_name", a)
		}
		if cfg.Aliases[ds] == nil {
			cfg.Aliases[ds] = map[string]string{}
		}
		cfg.Aliases[ds][from] = to
	}
	for _, s := range list(*shareBelow) {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return cfg, fmt.Errorf("--share_below: %v", err)
		}
		cfg.ShareBelow = append(cfg.ShareBelow, v)
	}
	sort.Float64s(cfg.ShareBelow)
	return cfg, nil
}

func run(ctx context.Context) error {
	start := time.Now()
	cfg, err := ParseFlags()
	if err != nil {
		return err
	}
	if err := cli.CheckOutput(ctx, cfg.Output, *overwrite); err != nil {
		return err
	}
	res, err := scalinglaw.LoadAndFit(ctx, cfg)
	if err != nil {
		return err
	}
	if err := scalinglaw.WriteAll(ctx, cfg.Output, res, cfg); err != nil {
		return err
	}
	scalinglaw.PrintSummary(os.Stdout, res, cfg)
	fmt.Printf("wrote %s in %.1f s\n", cfg.Output, time.Since(start).Seconds())
	return nil
}
