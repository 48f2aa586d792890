// Package scalinglaw relates concept frequency to zero-shot performance, as
// the study "No Zero-Shot Without Exponential Data" (arXiv 2404.04125) does:
// it joins per-concept counts (the study's released ones, or a count run's
// concept_counts.parquet) with per-concept accuracies, reproduces the
// study's binned log-linear fits, adds per-concept regressions, long-tail
// ("Let it Wag!") statistics and cross-dataset rank agreement, and writes
// Parquet tables, plots and an HTML report (local or gs://).
//
// It is plain Go: the fit is thousands of points. pipelines/fit is its
// command.
package scalinglaw

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/conceptfreq/conceptfreq/internal/report"
	"github.com/conceptfreq/conceptfreq/io/beamfs"
	"github.com/conceptfreq/conceptfreq/io/paper"
	"github.com/conceptfreq/conceptfreq/io/paths"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/transforms/scalinglaw/fitstats"
)

// Fit modes.
const (
	ModePaperBins  = "paper-bins"
	ModePerConcept = "per-concept"
)

// Tasks, and the metric of classification (retrieval's are
// paper.RetrievalMetrics' names).
const (
	TaskClassification = "classification"
	TaskRetrieval      = "retrieval"
	MetricTop1         = "top1"
)

// Config is everything a fit run needs; pipelines/fit fills it from flags.
type Config struct {
	PaperDir   string          // the study's released data (search_counts/, zero_shot_evaluations/)
	CountsPath string          // our concept_counts.parquet (optional)
	CountKind  paper.CountKind // its column used with CountsPath; "" = what the file has (matched, else text)
	CountsName string          // the name of CountsPath's rows in every output; "" = CountsLabel(CountsPath)
	// CountsPretraining is the pretraining dataset whose models'
	// performance CountsPath is fitted against; "" = the one pretraining
	// name of the --performance table.
	CountsPretraining string
	PerformancePath   string            // generic performance table (optional)
	Output            string            // output directory
	Pairs             []paper.Pair      // model/pretraining pairs read from PaperDir
	Prompts           []string          // prompt styles read from PaperDir
	Datasets          []string          // downstream datasets
	Kinds             []paper.CountKind // count kinds read from PaperDir
	Threshold         string            // tagger threshold in the study's file names
	NBins             int
	DefaultSlice      fitstats.Slice
	Slices            map[string]fitstats.Slice // by pretraining dataset
	Zeros             fitstats.ZeroMode
	Bootstrap         int
	Seed              uint64
	Aliases           map[string]map[string]string // dataset → performance name → count name
	TailK             int
	ShareBelow        []float64
	// Retrieval fits the study's retrieval results too (with PaperDir):
	// COCO's and Flickr's concepts pooled, RetrievalBins bin edges, the
	// bins RetrievalSlice keeps entering the correlation, the counts of
	// RetrievalKind.
	Retrieval      bool
	RetrievalBins  int
	RetrievalSlice fitstats.Slice
	RetrievalKind  paper.CountKind
	// Duplicates says what a performance table's rows that share a key
	// (task, model, pretraining, prompt, dataset, concept) become:
	// DuplicatesError (the default, "") refuses the table naming them,
	// DuplicatesFirst keeps the first and drops the others, DuplicatesMean
	// fits their finite mean; rows not fitted are listed in Dropped.
	Duplicates string
}

// Duplicate rules (Config.Duplicates).
const (
	DuplicatesError = "error"
	DuplicatesFirst = "first"
	DuplicatesMean  = "mean"
)

// Point is one concept of one downstream dataset: its frequency and metric.
type Point struct {
	Dataset, Concept string
	Count, Metric    float64
}

// Fit is one row of fits.parquet plus what the plots and report need.
type Fit struct {
	Pretraining    string         `parquet:"pretraining"`
	Model          string         `parquet:"model"`
	Prompt         string         `parquet:"prompt"`
	Kind           string         `parquet:"count_kind"`
	Mode           string         `parquet:"mode"`
	N              int            `parquet:"n"`
	Rho            float64        `parquet:"rho"`
	P              float64        `parquet:"p_value"`
	SlopePerDecade float64        `parquet:"slope_per_decade"`
	Intercept      float64        `parquet:"intercept"`
	Spearman       float64        `parquet:"spearman"`
	SpearmanP      float64        `parquet:"spearman_p_value"`
	CILow          float64        `parquet:"ci_low"`
	CIHigh         float64        `parquet:"ci_high"`
	R2             float64        `parquet:"r2"`
	BinSlice       string         `parquet:"bin_slice"`
	Concepts       int            `parquet:"concepts"`
	Unmatched      int            `parquet:"unmatched"`
	Bins           []fitstats.Bin // in bins.parquet
	Err            string         `parquet:"error"` // why a fit could not be computed
	// Counts names the frequencies: SourceStudy (the study's released
	// counts) or the name of a count run's concept_counts.parquet
	// (--counts_name).
	Counts string `parquet:"counts"`
	// Task is classification or retrieval; Metric the performance measure
	// (top1 for classification, i2t_recall@1 … t2i_recall@10 for
	// retrieval, as fractions).
	Task   string `parquet:"task"`
	Metric string `parquet:"metric"`
}

// SourceStudy is the Counts of a fit of the study's released counts.
const SourceStudy = "study"

// Own reports whether the fit's counts come from a count run.
func (f *Fit) Own() bool { return f.Counts != SourceStudy }

// ID names a fit in the report.
func (f *Fit) ID() string {
	if f.Task == TaskRetrieval {
		return strings.Join([]string{"fit", f.Counts, f.Task, f.Pretraining, f.Model, f.Metric, f.Kind, f.Mode}, "-")
	}
	if f.Own() {
		return strings.Join([]string{"fit", f.Counts, f.Pretraining, f.Model, f.Prompt, f.Kind, f.Mode}, "-")
	}
	return strings.Join([]string{"fit", f.Pretraining, f.Model, f.Prompt, f.Kind, f.Mode}, "-")
}

// Group names the frequencies a fit's plots and tables group it by: the
// pretraining dataset for the study's counts, the counts name (and the
// models' pretraining) for a count run's.
func (f *Fit) Group() string {
	if f.Own() {
		return f.Counts + " (" + f.Pretraining + " models)"
	}
	return f.Pretraining
}

// CountsLabel names a count run's counts by their file: the directory of a
// concept_counts.parquet (out/mycrawl/concept_counts.parquet → mycrawl),
// else the file's name without its extension.
func CountsLabel(file string) string {
	dir, base := path.Split(strings.TrimRight(file, "/"))
	if d := path.Base(dir); base == tables.ConceptCountsFile && dir != "" && d != "." && d != ".." && d != "/" {
		return d
	}
	if name := strings.TrimSuffix(base, ".parquet"); name != "" {
		return name
	}
	return "counts"
}

// perfSet is the per-concept metric of one model under one prompt style.
type perfSet struct {
	Pretraining, Model, Prompt string
	Task, Metric               string                        // "" : classification, top1
	ByDataset                  map[string]map[string]float64 // dataset → concept → metric
}

// Unmatched is a performance concept that has no count to join with.
type Unmatched struct {
	Counts      string `parquet:"counts"` // "study" or the --counts name
	Pretraining string `parquet:"pretraining"`
	Model       string `parquet:"model"`
	Prompt      string `parquet:"prompt"`
	Kind        string `parquet:"count_kind"`
	Dataset     string `parquet:"dataset"`
	Concept     string `parquet:"concept"`
	Task        string `parquet:"task"`   // classification or retrieval
	Metric      string `parquet:"metric"` // top1, or a retrieval metric
}

// Dropped is a performance row left out of every fit, and why.
type Dropped struct {
	Pretraining string `parquet:"pretraining"`
	Model       string `parquet:"model"`
	Prompt      string `parquet:"prompt"`
	Dataset     string `parquet:"dataset"`
	Concept     string `parquet:"concept"`
	Metric      string `parquet:"metric"`
	Reason      string `parquet:"reason"`
}

// Results of a run.
type Results struct {
	Fits []*Fit
	// Retrieval are the fits of the study's retrieval results (after Fits
	// in fits.parquet and bins.parquet).
	Retrieval []*Fit
	Unmatched []Unmatched
	Dropped   []Dropped // performance rows with a NaN or infinite metric
	// Reference holds, by fit ID, the study's own paper-bins fit for a fit
	// of a count run's counts whose pretraining name is one of the study's:
	// the same performance data joined with the study's released counts.
	Reference map[string]*Fit
	LongTail  []LongTail
	Tail      []TailRow
	Cross     []CrossRow
	Missing   []string // inputs that were looked for and not found
	// The count run's counts (--counts), when given: their file, the
	// column fitted, their name in the outputs and the pretraining name of
	// the performance rows they were fitted against.
	CountsPath, CountsName, CountsPretraining string
	CountsKind                                paper.CountKind
	// counts per (pretraining, kind) → dataset → concept → count, for plots
	freq map[string]map[string]*paper.Counts
	// the same for the retrieval test sets (kept apart: the long-tail and
	// cross-dataset statistics are over the classification datasets)
	retrievalFreq map[string]map[string]*paper.Counts
}

// LongTail describes the frequency distribution of one pretraining dataset.
type LongTail struct {
	Pretraining, Kind string
	Concepts, Zero    int
	Fit               fitstats.PowerLawFit
	FitErr            string
	Shares            []float64
	Sorted            []float64 // counts, descending, for the rank plot
}

// TailRow is one "Let it Wag!" concept.
type TailRow struct {
	Pretraining, Kind, Dataset, Concept string
	Rank                                int
	Count                               float64
}

// CrossRow is the rank agreement of two pretraining datasets' frequencies.
type CrossRow struct {
	Kind     string  `parquet:"count_kind"`
	A        string  `parquet:"pretraining_a"`
	B        string  `parquet:"pretraining_b"`
	N        int     `parquet:"n"`
	Spearman float64 `parquet:"spearman"`
	P        float64 `parquet:"p_value"`
}

func key(pre string, kind paper.CountKind) string { return pre + "|" + string(kind) }

// LoadAndFit reads the frequencies and performance tables cfg names (local
// or gs://), joins them per concept, computes every fit, the long-tail
// statistics and the cross-dataset rank agreement, and returns them.
func LoadAndFit(ctx context.Context, cfg Config) (*Results, error) {
	res := &Results{freq: map[string]map[string]*paper.Counts{}, Reference: map[string]*Fit{}}
	study := map[string]map[string]*paper.Counts{}
	var sets []perfSet
	kindsFor := map[string][]paper.CountKind{}
	if cfg.PaperDir != "" {
		list, err := beamfs.List(ctx, paths.Join(cfg.PaperDir, "zero_shot_evaluations/*"))
		if err != nil {
			return nil, fmt.Errorf("--paper %s: %w", cfg.PaperDir, err)
		}
		if len(list) == 0 {
			return nil, fmt.Errorf("--paper %s has no zero_shot_evaluations/: give the folder of the study's released data (search_counts/, zero_shot_evaluations/)", cfg.PaperDir)
		}
		pres := map[string]bool{}
		for _, pr := range cfg.Pairs {
			pres[pr.Pretraining] = true
		}
		for pre := range pres {
			for _, kind := range cfg.Kinds {
				byDS := map[string]*paper.Counts{}
				for _, ds := range cfg.Datasets {
					path := paths.Join(cfg.PaperDir, "search_counts/"+paper.SearchCountsFile(ds, pre, kind, cfg.Threshold))
					c, err := paper.ReadCounts(ctx, path)
					if errors.Is(err, paper.ErrNotFound) {
						res.Missing = append(res.Missing, path)
						continue
					}
					if err != nil {
						return nil, err
					}
					byDS[ds] = c
				}
				if len(byDS) > 0 {
					res.freq[key(pre, kind)] = byDS
					study[key(pre, kind)] = byDS
					kindsFor[pre] = append(kindsFor[pre], kind)
				}
			}
		}
		ps, missing, err := loadPaperPerformance(ctx, cfg)
		if err != nil {
			return nil, err
		}
		sets = append(sets, ps...)
		res.Missing = append(res.Missing, missing...)
	}
	var own *paper.Counts
	if cfg.CountsPath != "" {
		kind, c, err := readOurCounts(ctx, cfg.CountsPath, cfg.CountKind)
		if err != nil {
			return nil, err
		}
		own = c
		res.CountsPath, res.CountsKind, res.CountsName = cfg.CountsPath, kind, cfg.CountsName
		if res.CountsName == "" {
			res.CountsName = CountsLabel(cfg.CountsPath)
		}
		if kindsFor[res.CountsName] != nil || res.CountsName == SourceStudy {
			return nil, fmt.Errorf("--counts_name=%s is a name of the study's counts; give the counts another name", res.CountsName)
		}
		res.freq[key(res.CountsName, kind)] = map[string]*paper.Counts{"*": c}
	}
	if cfg.PerformancePath != "" {
		rows, err := paper.ReadPerformance(ctx, cfg.PerformancePath)
		if err != nil {
			return nil, err
		}
		tableSets, err := res.groupPerformance(rows, cfg.Duplicates)
		if err != nil {
			return nil, fmt.Errorf("--performance %s: %w", cfg.PerformancePath, err)
		}
		sets = append(sets, tableSets...)
		if own != nil && cfg.CountsPretraining == "" {
			names := pretrainingNames(tableSets)
			if len(names) == 1 {
				res.CountsPretraining = names[0]
			}
		}
	}
	sets = res.dropNonFinite(sets)
	if len(sets) == 0 {
		return nil, fmt.Errorf("no performance data: give the study's data (--paper) or a performance table (--performance)")
	}
	if own != nil {
		names := pretrainingNames(sets)
		if cfg.CountsPretraining != "" {
			res.CountsPretraining = cfg.CountsPretraining
		}
		switch {
		case res.CountsPretraining == "":
			return nil, fmt.Errorf("--counts: say which models' performance the counts are fitted against with --counts_pretraining=NAME; the performance rows have the pretraining names %s", strings.Join(names, ", "))
		case !slices.Contains(names, res.CountsPretraining):
			return nil, fmt.Errorf("--counts: no performance row has the pretraining name %q (--counts_pretraining), so the counts would join nothing; the performance rows have %s", res.CountsPretraining, strings.Join(names, ", "))
		}
	}
	var ownFits []*Fit
	for _, set := range sets {
		for _, kind := range kindsFor[set.Pretraining] {
			pts, um := join(cfg, set, kind, res.freq[key(set.Pretraining, kind)])
			res.Unmatched = append(res.Unmatched, um...)
			fits := fitBoth(cfg, set, kind, pts, len(um))
			for _, f := range fits {
				f.Counts = SourceStudy
			}
			res.Fits = append(res.Fits, fits...)
		}
		if own == nil || set.Pretraining != res.CountsPretraining {
			continue
		}
		kind := res.CountsKind
		pts, um := join(cfg, set, kind, res.freq[key(res.CountsName, kind)])
		for i := range um {
			um[i].Counts = res.CountsName
		}
		res.Unmatched = append(res.Unmatched, um...)
		fits := fitBoth(cfg, set, kind, pts, len(um))
		for _, f := range fits {
			f.Counts = res.CountsName
		}
		if study[key(set.Pretraining, kind)] != nil {
			refPts, refUm := join(cfg, set, kind, study[key(set.Pretraining, kind)])
			for _, ref := range fitBoth(cfg, set, kind, refPts, len(refUm)) {
				ref.Counts = SourceStudy
				for _, f := range fits {
					if f.Mode == ref.Mode {
						res.Reference[f.ID()] = ref
					}
				}
			}
		}
		ownFits = append(ownFits, fits...)
	}
	if own != nil && len(ownFits) > 0 {
		joined := 0
		for _, f := range ownFits {
			joined = max(joined, f.Concepts)
		}
		if joined == 0 {
			return nil, fmt.Errorf("--counts: none of the %s concepts of %s has a performance row of %s: the concept names differ (add --alias=dataset:performance_name=count_name)", report.Thousands(int64(len(own.Names))), cfg.CountsPath, res.CountsPretraining)
		}
	}
	// A count run's rows come first: they are what the user asked about.
	res.Fits = append(ownFits, res.Fits...)
	if len(res.Fits) == 0 {
		return nil, fmt.Errorf("no fits: no performance row's pretraining name has counts (%s)", strings.Join(pretrainingNames(sets), ", "))
	}
	res.longTail(cfg)
	res.crossDataset(cfg)
	if cfg.PaperDir != "" && cfg.Retrieval {
		if err := res.fitRetrieval(ctx, cfg); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// fitRetrieval fits the study's retrieval results: per model/pretraining
// pair and metric, the concepts of COCO and Flickr pooled, joined with the
// study's counts of those test sets (cfg.RetrievalKind).
func (res *Results) fitRetrieval(ctx context.Context, cfg Config) error {
	res.retrievalFreq = map[string]map[string]*paper.Counts{}
	kind := cfg.RetrievalKind
	for _, pr := range cfg.Pairs {
		k := key(pr.Pretraining, kind)
		if res.retrievalFreq[k] != nil {
			continue
		}
		byDS := map[string]*paper.Counts{}
		for _, ds := range paper.RetrievalDatasets {
			path := paths.Join(cfg.PaperDir, "search_counts/"+paper.SearchCountsFile(ds, pr.Pretraining, kind, cfg.Threshold))
			c, err := paper.ReadCounts(ctx, path)
			if errors.Is(err, paper.ErrNotFound) {
				res.Missing = append(res.Missing, path)
				continue
			}
			if err != nil {
				return err
			}
			byDS[ds] = c
		}
		res.retrievalFreq[k] = byDS
	}
	for _, m := range paper.RetrievalMetrics {
		byDS := map[string][]paper.ModelResult{}
		for _, ds := range paper.RetrievalDatasets {
			path := paths.Join(cfg.PaperDir, "retrieval_evaluations/"+paper.RetrievalFile(ds, m.File))
			r, err := paper.ReadRetrieval(ctx, path)
			if errors.Is(err, paper.ErrNotFound) {
				res.Missing = append(res.Missing, path)
				continue
			}
			if err != nil {
				return err
			}
			byDS[ds] = r
		}
		if len(byDS) == 0 {
			continue
		}
		for _, pr := range cfg.Pairs {
			set := perfSet{Pretraining: pr.Pretraining, Model: pr.Model, Prompt: "", Task: TaskRetrieval, Metric: m.Name,
				ByDataset: map[string]map[string]float64{}}
			for _, ds := range paper.RetrievalDatasets {
				if r, ok := paper.FindModel(byDS[ds], pr.Model, pr.Pretraining); ok {
					set.ByDataset[ds] = r.Classwise
				} else if byDS[ds] != nil {
					res.Missing = append(res.Missing, fmt.Sprintf("%s: no model %s pretrained on %s", paper.RetrievalFile(ds, m.File), pr.Model, pr.Pretraining))
				}
			}
			if len(set.ByDataset) == 0 {
				continue
			}
			pts, um := join(cfg, set, kind, res.retrievalFreq[key(pr.Pretraining, kind)])
			for i := range um {
				um[i].Task, um[i].Metric = TaskRetrieval, m.Name
			}
			res.Unmatched = append(res.Unmatched, um...)
			for _, f := range fitBoth(cfg, set, kind, pts, len(um)) {
				f.Counts = SourceStudy
				res.Retrieval = append(res.Retrieval, f)
			}
		}
	}
	return nil
}

// readOurCounts reads a count run's concept_counts.parquet and returns the
// column of kind ("" = matched when the file has image-side counts, else
// text). A concept whose image-side count is null (the tagger does not
// know it) has no count of that kind and joins nothing.
func readOurCounts(ctx context.Context, path string, kind paper.CountKind) (paper.CountKind, *paper.Counts, error) {
	b, err := beamfs.ReadAll(ctx, path)
	if err != nil {
		return "", nil, fmt.Errorf("--counts %s: %w", path, err)
	}
	rows, err := tables.ReadConceptCounts(bytes.NewReader(b), nil)
	if err != nil {
		return "", nil, fmt.Errorf("--counts %s: %w", path, err)
	}
	tagged := false
	for _, r := range rows {
		if r.MatchedCount != nil {
			tagged = true
			break
		}
	}
	if kind == "" {
		kind = paper.Text
		if tagged {
			kind = paper.Matched
		}
	}
	controlled := false
	for _, r := range rows {
		if r.TextCountDissimilar != nil {
			controlled = true
			break
		}
	}
	switch {
	case (kind == paper.Image || kind == paper.Matched || kind == paper.ImageDissimilar || kind == paper.MatchedDissimilar) && !tagged:
		return "", nil, fmt.Errorf("--counts %s has no %s counts (its run tagged no images); fit its caption counts with --count_kind=text", path, kind)
	case (kind == paper.TextDissimilar || kind == paper.ImageDissimilar || kind == paper.MatchedDissimilar) && !controlled:
		return "", nil, fmt.Errorf("--counts %s has no %s counts (its run had no similarity control: count with --near_duplicates)", path, kind)
	}
	c := &paper.Counts{Values: map[string]float64{}}
	at := map[string]int{}
	for i, r := range rows {
		if j, dup := at[r.Concept]; dup {
			return "", nil, fmt.Errorf("--counts %s: the concept %q has two rows (%d and %d): a counts file has one row per concept", path, r.Concept, j+1, i+1)
		}
		at[r.Concept] = i
	}
	for _, r := range rows {
		v := &r.TextCount
		switch kind {
		case paper.Image:
			v = r.ImageCount
		case paper.Matched:
			v = r.MatchedCount
		case paper.TextDissimilar:
			v = r.TextCountDissimilar
		case paper.ImageDissimilar:
			v = r.ImageCountDissimilar
		case paper.MatchedDissimilar:
			v = r.MatchedCountDissimilar
		}
		if v == nil {
			continue
		}
		c.Names = append(c.Names, r.Concept)
		c.Values[r.Concept] = float64(*v)
	}
	return kind, c, nil
}

// pretrainingNames lists the pretraining names of sets, sorted.
func pretrainingNames(sets []perfSet) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range sets {
		if !seen[s.Pretraining] {
			seen[s.Pretraining] = true
			out = append(out, s.Pretraining)
		}
	}
	sort.Strings(out)
	return out
}

func loadPaperPerformance(ctx context.Context, cfg Config) ([]perfSet, []string, error) {
	var sets []perfSet
	var missing []string
	for _, prompt := range cfg.Prompts {
		byDS := map[string][]paper.ModelResult{}
		for _, ds := range cfg.Datasets {
			path := paths.Join(cfg.PaperDir, "zero_shot_evaluations/"+paper.ZeroShotFile(ds, prompt))
			r, err := paper.ReadZeroShot(ctx, path)
			if errors.Is(err, paper.ErrNotFound) {
				missing = append(missing, path)
				continue
			}
			if err != nil {
				return nil, nil, err
			}
			byDS[ds] = r
		}
		for _, pr := range cfg.Pairs {
			set := perfSet{Pretraining: pr.Pretraining, Model: pr.Model, Prompt: prompt, ByDataset: map[string]map[string]float64{}}
			for ds, results := range byDS {
				if m, ok := paper.FindModel(results, pr.Model, pr.Pretraining); ok {
					set.ByDataset[ds] = m.Classwise
				} else {
					missing = append(missing, fmt.Sprintf("%s: no model %s pretrained on %s", paper.ZeroShotFile(ds, prompt), pr.Model, pr.Pretraining))
				}
			}
			sets = append(sets, set)
		}
	}
	return sets, missing, nil
}

// groupPerformance groups a performance table's rows into sets, applying
// the duplicate rule to rows that share a key; the rows it leaves out are
// listed in res.Dropped.
func (res *Results) groupPerformance(rows []paper.PerfRow, rule string) ([]perfSet, error) {
	first := map[string]int{} // key → 0-based index of its first row
	count := map[string]int{}
	var dups []string
	for i, r := range rows {
		k := perfKey(r)
		count[k]++
		f, ok := first[k]
		if !ok {
			first[k] = i
			continue
		}
		if len(dups) < 5 {
			dups = append(dups, fmt.Sprintf("rows %d and %d (model %s, pretraining %s, dataset %s, concept %q, prompt %q: metrics %v and %v)",
				f+1, i+1, r.Model, r.Pretraining, r.Dataset, r.Concept, r.Prompt, rows[f].Metric, r.Metric))
		}
	}
	switch rule {
	case "", DuplicatesError:
		if n := len(rows) - len(first); n > 0 {
			return nil, fmt.Errorf("%d performance rows repeat an earlier row's key (task, model, pretraining, prompt, dataset, concept): %s; "+
				"remove them, or say which to fit with --duplicates=first or --duplicates=mean", n, strings.Join(dups, "; "))
		}
	case DuplicatesFirst, DuplicatesMean:
	default:
		return nil, fmt.Errorf("duplicate rule %q: want %s, %s or %s", rule, DuplicatesError, DuplicatesFirst, DuplicatesMean)
	}
	type mean struct {
		sum float64
		n   int
	}
	means := map[string]*mean{} // with mean: the running finite mean of a key's rows
	idx := map[string]int{}
	var sets []perfSet
	for i, r := range rows {
		k := perfKey(r)
		if f := first[k]; count[k] > 1 {
			switch {
			case rule == DuplicatesFirst && f != i:
				res.Dropped = append(res.Dropped, Dropped{r.Pretraining, r.Model, r.Prompt, r.Dataset, r.Concept, fmt.Sprint(r.Metric),
					fmt.Sprintf("duplicate of row %d (--duplicates=first keeps it)", f+1)})
				continue
			case rule == DuplicatesMean:
				if math.IsNaN(r.Metric) || math.IsInf(r.Metric, 0) {
					res.Dropped = append(res.Dropped, Dropped{r.Pretraining, r.Model, r.Prompt, r.Dataset, r.Concept, fmt.Sprint(r.Metric),
						fmt.Sprintf("non-finite duplicate of row %d, left out of --duplicates=mean", f+1)})
					continue
				}
				m := means[k]
				if m == nil {
					m = &mean{}
					means[k] = m
				}
				m.sum += r.Metric
				m.n++
				r.Metric = m.sum / float64(m.n)
			}
		}
		sk := r.Task + "|" + r.Pretraining + "|" + r.Model + "|" + r.Prompt
		i, ok := idx[sk]
		if !ok {
			i = len(sets)
			idx[sk] = i
			set := perfSet{Pretraining: r.Pretraining, Model: r.Model, Prompt: r.Prompt, ByDataset: map[string]map[string]float64{}}
			if r.Task == TaskRetrieval {
				// A retrieval evaluation's rows: the prompt column names
				// the metric.
				set.Task, set.Metric, set.Prompt = TaskRetrieval, r.Prompt, ""
			}
			sets = append(sets, set)
		}
		if sets[i].ByDataset[r.Dataset] == nil {
			sets[i].ByDataset[r.Dataset] = map[string]float64{}
		}
		sets[i].ByDataset[r.Dataset][r.Concept] = r.Metric
	}
	return sets, nil
}

// perfKey is a performance row's key: one row per key is fitted.
func perfKey(r paper.PerfRow) string {
	return strings.Join([]string{r.Task, r.Pretraining, r.Model, r.Prompt, r.Dataset, r.Concept}, "\x1f")
}

// dropNonFinite removes NaN and ±Inf metrics from the performance sets,
// listing each in res.Dropped, and drops sets left empty.
func (res *Results) dropNonFinite(sets []perfSet) []perfSet {
	out := sets[:0]
	for _, set := range sets {
		left := 0
		for ds, byConcept := range set.ByDataset {
			for c, m := range byConcept {
				if math.IsNaN(m) || math.IsInf(m, 0) {
					res.Dropped = append(res.Dropped, Dropped{set.Pretraining, set.Model, set.Prompt, ds, c, fmt.Sprint(m), "missing or non-finite metric"})
					delete(byConcept, c)
				}
			}
			left += len(byConcept)
		}
		if left > 0 {
			out = append(out, set)
		}
	}
	sort.Slice(res.Dropped, func(i, j int) bool {
		a, b := res.Dropped[i], res.Dropped[j]
		return a.Pretraining+a.Model+a.Prompt+a.Dataset+a.Concept < b.Pretraining+b.Model+b.Prompt+b.Dataset+b.Concept
	})
	return out
}

// join pairs every concept of set with its count, dataset by dataset, in a
// fixed order; concepts without a count are returned as unmatched.
func join(cfg Config, set perfSet, kind paper.CountKind, freq map[string]*paper.Counts) ([]Point, []Unmatched) {
	var pts []Point
	var um []Unmatched
	datasets := make([]string, 0, len(set.ByDataset))
	for ds := range set.ByDataset {
		datasets = append(datasets, ds)
	}
	sort.Strings(datasets)
	for _, ds := range datasets {
		counts := freq[ds]
		if counts == nil {
			counts = freq["*"]
		}
		concepts := make([]string, 0, len(set.ByDataset[ds]))
		for c := range set.ByDataset[ds] {
			concepts = append(concepts, c)
		}
		sort.Strings(concepts)
		for _, c := range concepts {
			name := c
			if a, ok := cfg.Aliases[ds][c]; ok {
				name = a
			}
			var v float64
			ok := false
			if counts != nil {
				v, ok = counts.Values[name]
			}
			if !ok {
				task, metric := set.Task, set.Metric
				if task == "" {
					task, metric = TaskClassification, MetricTop1
				}
				um = append(um, Unmatched{SourceStudy, set.Pretraining, set.Model, set.Prompt, string(kind), ds, c, task, metric})
				continue
			}
			pts = append(pts, Point{Dataset: ds, Concept: c, Count: v, Metric: set.ByDataset[ds][c]})
		}
	}
	return pts, um
}

func fitBoth(cfg Config, set perfSet, kind paper.CountKind, pts []Point, unmatched int) []*Fit {
	counts := make([]float64, len(pts))
	metric := make([]float64, len(pts))
	for i, p := range pts {
		counts[i], metric[i] = p.Count, p.Metric
	}
	task, name := set.Task, set.Metric
	if task == "" {
		task, name = TaskClassification, MetricTop1
	}
	base := Fit{Pretraining: set.Pretraining, Model: set.Model, Prompt: set.Prompt, Kind: string(kind),
		Concepts: len(pts), Unmatched: unmatched, Spearman: math.NaN(), SpearmanP: math.NaN(),
		CILow: math.NaN(), CIHigh: math.NaN(), R2: math.NaN(), Task: task, Metric: name}

	pb := base
	pb.Mode = ModePaperBins
	slice, nbins := cfg.DefaultSlice, cfg.NBins
	if s, ok := cfg.Slices[set.Pretraining]; ok {
		slice = s
	}
	if task == TaskRetrieval {
		slice, nbins = cfg.RetrievalSlice, cfg.RetrievalBins
	}
	pb.BinSlice = slice.String()
	bf, err := fitstats.PaperBins(counts, metric, nbins, slice)
	pb.Bins = bf.Bins
	pb.N, pb.Rho, pb.P, pb.SlopePerDecade, pb.Intercept = bf.N, bf.Rho, bf.P, bf.SlopePerDecade, bf.Intercept
	if err != nil {
		pb.Err = err.Error()
	}

	pc := base
	pc.Mode = ModePerConcept
	pc.BinSlice = "zeros=" + string(cfg.Zeros)
	cf, err := fitstats.PerConcept(counts, metric, cfg.Zeros, cfg.Bootstrap, cfg.Seed)
	pc.N, pc.Rho, pc.P, pc.SlopePerDecade, pc.Intercept = cf.N, cf.Pearson, cf.PearsonP, cf.SlopePerDecade, cf.Intercept
	pc.Spearman, pc.SpearmanP, pc.CILow, pc.CIHigh, pc.R2, pc.Bins = cf.Spearman, cf.SpearP, cf.CILow, cf.CIHigh, cf.R2, cf.Decades
	if err != nil {
		pc.Err = err.Error()
		pc.Rho, pc.P = math.NaN(), math.NaN()
	}
	for _, f := range []*Fit{&pb, &pc} {
		f.checkFinite(metric)
	}
	return []*Fit{&pb, &pc}
}

// checkFinite gives a fit that computed without an error but whose
// figures overflowed (finite but absurd metrics, 1e308) an error saying
// so, so that no row with an empty error holds a non-finite figure.
func (f *Fit) checkFinite(metric []float64) {
	if f.Err != "" {
		return
	}
	bad := !finite(f.SlopePerDecade) || !finite(f.Intercept) || math.IsInf(f.Rho, 0)
	for _, b := range f.Bins {
		bad = bad || b.N > 0 && math.IsInf(b.Mean, 0)
	}
	if !bad {
		return
	}
	largest := 0.0
	for _, m := range metric {
		largest = math.Max(largest, math.Abs(m))
	}
	f.Err = fmt.Sprintf("the fit overflowed: metrics up to %g in magnitude give non-finite figures (check the performance table's metric column)", largest)
	f.Rho, f.P, f.SlopePerDecade, f.Intercept = math.NaN(), math.NaN(), math.NaN(), math.NaN()
}

// longTail describes each (pretraining, kind) frequency distribution over
// the unique (dataset, concept) pairs, and exports its rarest concepts.
func (res *Results) longTail(cfg Config) {
	keys := make([]string, 0, len(res.freq))
	for k := range res.freq {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		pre, kind, _ := strings.Cut(k, "|")
		type item struct {
			ds, concept string
			count       float64
		}
		var items []item
		for ds, c := range res.freq[k] {
			for _, name := range c.Names {
				items = append(items, item{ds, name, c.Values[name]})
			}
		}
		sort.Slice(items, func(i, j int) bool {
			if items[i].count != items[j].count {
				return items[i].count < items[j].count
			}
			if items[i].ds != items[j].ds {
				return items[i].ds < items[j].ds
			}
			return items[i].concept < items[j].concept
		})
		lt := LongTail{Pretraining: pre, Kind: kind, Concepts: len(items)}
		values := make([]float64, len(items))
		rank := 0
		for i, it := range items {
			values[i] = it.count
			if it.count == 0 {
				lt.Zero++
				res.Tail = append(res.Tail, TailRow{pre, kind, it.ds, it.concept, 0, 0})
			} else if rank < cfg.TailK {
				rank++
				res.Tail = append(res.Tail, TailRow{pre, kind, it.ds, it.concept, rank, it.count})
			}
		}
		fit, err := fitstats.FitPowerLaw(values, 200, 20)
		lt.Fit = fit
		if err != nil {
			lt.FitErr = err.Error()
		}
		lt.Shares = fitstats.ShareBelow(values, cfg.ShareBelow)
		lt.Sorted = make([]float64, len(values))
		for i := range values {
			lt.Sorted[i] = values[len(values)-1-i]
		}
		res.LongTail = append(res.LongTail, lt)
	}
}

// joinable pairs the per-dataset counts of two pretraining datasets by
// downstream dataset; our own counts (one map under "*", for every dataset)
// pair with each dataset of the other side, whichever side they are on.
func joinable(a, b map[string]*paper.Counts) [][2]*paper.Counts {
	if star, ok := a["*"]; ok && len(a) == 1 {
		var out [][2]*paper.Counts
		for _, cb := range b {
			out = append(out, [2]*paper.Counts{star, cb})
		}
		return out
	}
	var out [][2]*paper.Counts
	for ds, ca := range a {
		cb := b[ds]
		if cb == nil {
			cb = b["*"]
		}
		if cb != nil {
			out = append(out, [2]*paper.Counts{ca, cb})
		}
	}
	return out
}

// crossDataset correlates the frequencies of every two pretraining datasets
// of the same kind, joined by (dataset, concept) name.
func (res *Results) crossDataset(cfg Config) {
	byKind := map[string][]string{}
	for k := range res.freq {
		pre, kind, _ := strings.Cut(k, "|")
		byKind[kind] = append(byKind[kind], pre)
	}
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, kind := range kinds {
		pres := byKind[kind]
		sort.Strings(pres)
		for i := 0; i < len(pres); i++ {
			for j := i + 1; j < len(pres); j++ {
				a, b := res.freq[pres[i]+"|"+kind], res.freq[pres[j]+"|"+kind]
				var xa, xb []float64
				for _, pair := range joinable(a, b) {
					ca, cb := pair[0], pair[1]
					for _, name := range ca.Names {
						if v, ok := cb.Values[name]; ok {
							xa = append(xa, ca.Values[name])
							xb = append(xb, v)
						}
					}
				}
				row := CrossRow{Kind: kind, A: pres[i], B: pres[j], N: len(xa)}
				row.Spearman, row.P, _ = fitstats.Spearman(xa, xb)
				res.Cross = append(res.Cross, row)
			}
		}
	}
}
