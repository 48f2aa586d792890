package zeroshot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/conceptfreq/conceptfreq/io/beamfs"
	"github.com/conceptfreq/conceptfreq/io/paths"
	"github.com/conceptfreq/conceptfreq/io/tables"
)

func init() {
	register.DoFn5x1[context.Context, []byte, func(*string, *Score) bool, func(*Stats) bool, func(*tables.Reject) bool, error](&writeFn{})
	register.Iter2[string, Score]()
	register.Iter1[Stats]()
	register.Iter1[tables.Reject]()
}

// StatusComplete is the status of a finished evaluation's summary.
const StatusComplete = "complete"

// Output file names.
const (
	PerformanceFile = "performance.parquet"
	StatsFile       = "eval_stats.json"
	RejectsFile     = tables.RejectsFile
)

// Run names what was evaluated; it fills the performance table's model,
// pretraining and dataset columns and is recorded in eval_stats.json.
type Run struct {
	Model       string   `json:"model"`
	Pretraining string   `json:"pretraining"`
	Dataset     string   `json:"dataset"`
	ImageModel  string   `json:"image_model"`
	TextModel   string   `json:"text_model"`
	Inputs      []string `json:"inputs"`
	Files       int      `json:"files"`
	Classes     int      `json:"classes"`
	Prompts     []string `json:"prompts"`
	Runner      string   `json:"runner"`
	// What made the figures: the tool's version and commit, the models'
	// sha256 and the image preprocessing (preprocess.Spec), also written
	// as performance.parquet's key-value metadata.
	Version          string `json:"version"`
	ImageModelSHA256 string `json:"image_model_sha256"`
	TextModelSHA256  string `json:"text_model_sha256"`
	BPESHA256        string `json:"bpe_sha256,omitempty"`
	ImageSpec        string `json:"image_spec"`
}

// Provenance is performance.parquet's key-value metadata.
func (r Run) Provenance() tables.Provenance {
	p := tables.Provenance{tables.MetaVersion: r.Version, tables.MetaImageModelSHA256: r.ImageModelSHA256,
		tables.MetaTextModelSHA256: r.TextModelSHA256, tables.MetaImageSpec: r.ImageSpec}
	if r.BPESHA256 != "" {
		p[tables.MetaBPESHA256] = r.BPESHA256
	}
	if len(r.Prompts) > 0 {
		p[tables.MetaPrompts] = strings.Join(r.Prompts, ",")
	}
	return p
}

// PerformanceRow is one row of performance.parquet: the per-class top-1
// accuracy (percent) of a model under a prompt set, in the columns
// pipelines/fit --performance reads.
type PerformanceRow struct {
	Model       string  `parquet:"model"`
	Pretraining string  `parquet:"pretraining"`
	Dataset     string  `parquet:"dataset"`
	Concept     string  `parquet:"concept"`
	Metric      float64 `parquet:"metric"`
	Prompt      string  `parquet:"prompt"`
}

// Accuracy is one prompt set's overall result in eval_stats.json.
type Accuracy struct {
	Prompt  string  `json:"prompt"`
	Samples int64   `json:"samples"`
	Top1    float64 `json:"top1"` // percent
	TopK    float64 `json:"top5"` // percent
	// MeanPerClass is the mean of the per-class top-1 accuracies (percent),
	// over classes with at least one image.
	MeanPerClass float64 `json:"mean_per_class_top1"`
}

// EvalStats is the content of eval_stats.json.
type EvalStats struct {
	// Status is complete: the job writes the summary last, once every
	// output is in place (a directory without it is incomplete).
	Status string `json:"status"`
	Stats
	Accuracy      []Accuracy `json:"accuracy"`
	ClassesNoData []string   `json:"classes_without_images"`
	Run           Run        `json:"run"`
	StartedAt     time.Time  `json:"started_at"`
	FinishedAt    time.Time  `json:"finished_at"`
}

// WriteOutputs writes performance.parquet, rejects.parquet and
// eval_stats.json into dir from the outputs of Evaluate. Classes without
// images get no row (they are listed in eval_stats.json).
func WriteOutputs(s beam.Scope, dir string, cfg Config, run Run, start time.Time, out Outputs) {
	s = s.Scope("zeroshot.WriteOutputs")
	beam.ParDo0(s, &writeFn{Dir: dir, Classes: cfg.Classes, Prompts: cfg.Prompts, Run: run, StartUnixNano: start.UnixNano()},
		beam.Impulse(s), beam.SideInput{Input: out.Scores}, beam.SideInput{Input: out.Stats}, beam.SideInput{Input: out.Rejects})
}

type writeFn struct {
	Dir           string
	Classes       []string
	Prompts       []string
	Run           Run
	StartUnixNano int64
}

func (f *writeFn) ProcessElement(ctx context.Context, _ []byte, scores func(*string, *Score) bool, stats func(*Stats) bool, rejects func(*tables.Reject) bool) error {
	byKey := map[string]Score{}
	var k string
	var sc Score
	for scores(&k, &sc) {
		byKey[k] = mergeScore(byKey[k], sc)
	}
	es := EvalStats{Status: StatusComplete, Run: f.Run, StartedAt: time.Unix(0, f.StartUnixNano).UTC(), ClassesNoData: []string{}}
	var st Stats
	for stats(&st) {
		es.Stats = mergeStats(es.Stats, st)
	}
	var rows []PerformanceRow
	for pi, p := range f.Prompts {
		acc := Accuracy{Prompt: p}
		var hits1, hitsK int64
		var sumPerClass float64
		classes := 0
		for _, c := range f.Classes {
			sc, ok := byKey[Key(p, c)]
			if !ok || sc.N == 0 {
				if pi == 0 {
					es.ClassesNoData = append(es.ClassesNoData, c)
				}
				continue
			}
			m := 100 * float64(sc.Top1) / float64(sc.N)
			rows = append(rows, PerformanceRow{Model: f.Run.Model, Pretraining: f.Run.Pretraining, Dataset: f.Run.Dataset, Concept: c, Metric: m, Prompt: p})
			acc.Samples += sc.N
			hits1 += sc.Top1
			hitsK += sc.TopK
			sumPerClass += m
			classes++
		}
		if acc.Samples > 0 {
			acc.Top1 = 100 * float64(hits1) / float64(acc.Samples)
			acc.TopK = 100 * float64(hitsK) / float64(acc.Samples)
			acc.MeanPerClass = sumPerClass / float64(classes)
		}
		es.Accuracy = append(es.Accuracy, acc)
	}
	var b bytes.Buffer
	if err := tables.WriteRowsWith(&b, PerformanceFile, rows, f.Run.Provenance(), nil); err != nil {
		return err
	}
	if err := beamfs.WriteBytes(ctx, paths.Join(f.Dir, PerformanceFile), b.Bytes()); err != nil {
		return err
	}
	if err := beamfs.Write(ctx, paths.Join(f.Dir, RejectsFile), func(w io.Writer) error {
		rw, err := tables.NewRejectWriter(w, nil)
		if err != nil {
			return err
		}
		var r tables.Reject
		for rejects(&r) {
			if err := rw.WriteReject(r); err != nil {
				rw.Close()
				return err
			}
		}
		return rw.Close()
	}); err != nil {
		return err
	}
	sort.Strings(es.ClassesNoData)
	es.FinishedAt = time.Now().UTC()
	return beamfs.Write(ctx, paths.Join(f.Dir, StatsFile), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(es)
	})
}

// ReadStats reads eval_stats.json back from an evaluation's directory.
func ReadStats(ctx context.Context, dir string) (*EvalStats, error) {
	path := paths.Join(dir, StatsFile)
	b, err := beamfs.ReadAll(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("zeroshot: reading %s: %w", path, err)
	}
	var es EvalStats
	if err := json.Unmarshal(b, &es); err != nil {
		return nil, fmt.Errorf("zeroshot: reading %s: %w", path, err)
	}
	return &es, nil
}
