package count

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/conceptfreq/conceptfreq/io/files"
	"github.com/conceptfreq/conceptfreq/io/shard"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
)

func init() {
	register.DoFn7x1[context.Context, []byte, func(*string, *Tally) bool, func(*Stats) bool, func(*tables.Reject) bool,
		func(*tables.ScoreRow) bool, func(*tables.SampleRow) bool, error](&writeOutputsFn{})
	register.Iter2[string, Tally]()
	register.Iter1[Stats]()
	register.Iter1[tables.Reject]()
	register.Iter1[tables.ScoreRow]()
	register.Iter1[tables.SampleRow]()
}

// ConceptTotal is one entry of run_stats.json's top_concepts.
type ConceptTotal struct {
	Concept   string `json:"concept"`
	TextCount int64  `json:"text_count"`
}

// RunStats is the content of run_stats.json.
type RunStats struct {
	Stats
	SampleRejects                int64          `json:"sample_rejects"`
	ImageRejects                 int64          `json:"image_rejects"`
	MisalignmentDegree           float64        `json:"misalignment_degree"`
	MisalignmentDegreeConsidered float64        `json:"misalignment_degree_considered"`
	MisalignmentDegreeExtracted  float64        `json:"misalignment_degree_extracted"`
	ConceptsNonZero              int            `json:"concepts_with_matches"`
	TopConcepts                  []ConceptTotal `json:"top_concepts"`
	Config                       RunConfig      `json:"config"`
	StartedAt                    time.Time      `json:"started_at"`
	FinishedAt                   time.Time      `json:"finished_at"`
	WallSeconds                  float64        `json:"wall_seconds"`
	SamplesPerSecond             float64        `json:"samples_per_second"`
	ImageTaggingRan              bool           `json:"image_tagging"`
	OutputFiles                  []string       `json:"output_files"`
}

// WriteOutputs writes concept_counts.parquet (one row per concept of cfg,
// zeros included), rejects.parquet and run_stats.json (with record) into
// cfg.Output, and image_scores.parquet / sample_concepts.parquet when asked
// for. It runs as one DoFn reading the outputs of Captions as (streamed)
// side inputs.
func WriteOutputs(s beam.Scope, cfg Config, record RunConfig, start time.Time, out Outputs) {
	s = s.Scope("count.WriteOutputs")
	imp := beam.Impulse(s)
	beam.ParDo0(s, &writeOutputsFn{Dir: cfg.Output, Concepts: cfg.Names(), Config: record, StartUnixNano: start.UnixNano()}, imp,
		beam.SideInput{Input: out.Counts}, beam.SideInput{Input: out.Stats}, beam.SideInput{Input: out.Rejects},
		beam.SideInput{Input: out.Scores}, beam.SideInput{Input: out.Samples})
}

type writeOutputsFn struct {
	Dir           string
	Concepts      []string
	Config        RunConfig
	StartUnixNano int64
}

func (f *writeOutputsFn) ProcessElement(ctx context.Context, _ []byte, counts func(*string, *Tally) bool, sts func(*Stats) bool,
	rejects func(*tables.Reject) bool, scores func(*tables.ScoreRow) bool, samples func(*tables.SampleRow) bool) error {
	byName := make(map[string]Tally, len(f.Concepts))
	var name string
	var n Tally
	for counts(&name, &n) {
		t := byName[name]
		t.Add(n)
		byName[name] = t
	}
	unknown := map[string]bool{}
	if f.Config.Image != nil {
		for _, u := range f.Config.Image.UnknownConcepts {
			unknown[u] = true
		}
	}
	ptr := func(v int64) *int64 { return &v }
	rows := make([]tables.ConceptCount, len(f.Concepts))
	for i, c := range f.Concepts {
		t := byName[c]
		rows[i] = tables.ConceptCount{Concept: c, TextCount: t.Text}
		if f.Config.Match == string(caption.Study) {
			rows[i].TextCount, _ = caption.StudyCount(t.StudyHist())
		}
		if f.Config.Image != nil && !unknown[c] {
			rows[i].ImageCount, rows[i].MatchedCount = ptr(t.Image), ptr(t.Matched)
			rows[i].TextOnlyCount, rows[i].ImageOnlyCount = ptr(t.TextOnly), ptr(t.ImageOnly)
		}
		delete(byName, c)
	}
	if len(byName) != 0 {
		return fmt.Errorf("count: %d counted concepts are not in the vocabulary (first: %v)", len(byName), firstKey(byName))
	}
	if err := files.WriteAtomic(ctx, files.Join(f.Dir, tables.ConceptCountsFile), func(w io.Writer) error {
		return tables.WriteConceptCounts(w, rows, nil)
	}); err != nil {
		return err
	}

	var total Stats
	total.Rejects = map[string]int64{}
	var st Stats
	for sts(&st) {
		total.Merge(st)
	}
	if err := writeRows(ctx, files.Join(f.Dir, tables.RejectsFile), tables.NewRejectWriter, rejects, (*tables.RowWriter).WriteReject); err != nil {
		return err
	}

	outputs := []string{tables.ConceptCountsFile, tables.RejectsFile}
	if f.Config.Image != nil && f.Config.Image.EmitScores {
		if err := writeRows(ctx, files.Join(f.Dir, tables.ImageScoresFile), tables.NewScoreWriter, scores, (*tables.RowWriter).WriteScore); err != nil {
			return err
		}
		outputs = append(outputs, tables.ImageScoresFile)
	}
	if f.Config.EmitSamples {
		if err := writeRows(ctx, files.Join(f.Dir, tables.SampleConceptsFile), tables.NewSampleWriter, samples, (*tables.RowWriter).WriteSample); err != nil {
			return err
		}
		outputs = append(outputs, tables.SampleConceptsFile)
	}

	rs := RunStats{Stats: total, Config: f.Config, StartedAt: time.Unix(0, f.StartUnixNano).UTC()}
	rs.Config.Files = int(total.ShardsRead + total.ShardsFailed)
	for reason, k := range total.Rejects {
		switch {
		case shard.IsShardReason(reason):
		case IsImageReason(reason):
			rs.ImageRejects += k
		default:
			rs.SampleRejects += k
		}
	}
	if total.SamplesRead > 0 {
		rs.MisalignmentDegree = float64(total.Misaligned) / float64(total.SamplesRead)
	}
	if d := max(total.ImagesWithConcept, total.TaggedWithTextConcept); d > 0 {
		rs.MisalignmentDegreeExtracted = float64(total.Misaligned) / float64(d)
	}
	if total.MisalignmentConsidered > 0 {
		rs.MisalignmentDegreeConsidered = float64(total.Misaligned) / float64(total.MisalignmentConsidered)
	}
	rs.ImageTaggingRan = f.Config.Image != nil
	sorted := append([]tables.ConceptCount(nil), rows...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].TextCount > sorted[j].TextCount })
	for _, r := range sorted {
		if r.TextCount > 0 {
			rs.ConceptsNonZero++
		}
	}
	for _, r := range sorted[:min(10, len(sorted))] {
		if r.TextCount > 0 {
			rs.TopConcepts = append(rs.TopConcepts, ConceptTotal{Concept: r.Concept, TextCount: r.TextCount})
		}
	}
	rs.FinishedAt = time.Now().UTC()
	rs.WallSeconds = rs.FinishedAt.Sub(rs.StartedAt).Seconds()
	if rs.WallSeconds > 0 {
		rs.SamplesPerSecond = float64(total.SamplesRead) / rs.WallSeconds
	}
	rs.OutputFiles = append(outputs, ReportFile, tables.RunStatsFile)
	page, err := renderCountReport(rs, rows)
	if err != nil {
		return err
	}
	if err := files.WriteAtomic(ctx, files.Join(f.Dir, ReportFile), func(w io.Writer) error { _, err := w.Write(page); return err }); err != nil {
		return err
	}
	return files.WriteAtomic(ctx, files.Join(f.Dir, tables.RunStatsFile), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rs)
	})
}

func firstKey[V any](m map[string]V) string {
	for k := range m {
		return k
	}
	return ""
}

// writeRows streams the rows of a side-input iterable into a Parquet file.
func writeRows[T any](ctx context.Context, path string, open func(io.Writer, memory.Allocator) (*tables.RowWriter, error),
	next func(*T) bool, write func(*tables.RowWriter, T) error) error {
	return files.WriteAtomic(ctx, path, func(w io.Writer) error {
		rw, err := open(w, nil)
		if err != nil {
			return err
		}
		var row T
		for next(&row) {
			if err := write(rw, row); err != nil {
				rw.Close()
				return err
			}
		}
		return rw.Close()
	})
}
