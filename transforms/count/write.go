package count

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/conceptfreq/conceptfreq/transforms/concept"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/conceptfreq/conceptfreq/io/beamfs"
	"github.com/conceptfreq/conceptfreq/io/paths"
	"github.com/conceptfreq/conceptfreq/io/shard"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
)

func init() {
	register.DoFn5x1[context.Context, []byte, func(*string, *concept.Tally) bool, func(*concept.Stats) bool, func(*int64) bool, error](&writeOutputsFn{})
	register.Iter2[string, concept.Tally]()
	register.Iter1[concept.Stats]()
	register.Iter1[int64]()
	register.Iter1[tables.Reject]()
	register.Iter1[tables.ScoreRow]()
	register.Iter1[tables.SampleRow]()
	register.Iter1[tables.NearRow]()
	register.Function1x2[tables.Reject, string, tables.Reject](keyReject)
	register.Function1x2[tables.ScoreRow, string, tables.ScoreRow](keyScore)
	register.Function1x2[tables.SampleRow, string, tables.SampleRow](keySample)
	register.Function1x2[tables.NearRow, string, tables.NearRow](keyNear)
	register.DoFn4x1[context.Context, string, func(*tables.Reject) bool, func(int64), error](&writeRejectPartFn{})
	register.DoFn4x1[context.Context, string, func(*tables.ScoreRow) bool, func(int64), error](&writeScorePartFn{})
	register.DoFn4x1[context.Context, string, func(*tables.SampleRow) bool, func(int64), error](&writeSamplePartFn{})
	register.DoFn4x1[context.Context, string, func(*tables.NearRow) bool, func(int64), error](&writeNearPartFn{})
	register.Emitter1[int64]()
	register.Function2x1[int64, int64, int64](sumRows)
}

// ConceptTotal is one entry of run_stats.json's top_concepts.
type ConceptTotal struct {
	Concept   string `json:"concept"`
	TextCount int64  `json:"text_count"`
	// ImageCount and MatchedCount are set in a tagging run for a concept
	// the tagger knows.
	ImageCount   *int64 `json:"image_count,omitempty"`
	MatchedCount *int64 `json:"matched_count,omitempty"`
}

// RunStats is the content of run_stats.json.
type RunStats struct {
	// Status is complete, or failed with StatusReason: a scheduler takes
	// a directory as complete when its run_stats.json says complete.
	Status       string `json:"status"`
	StatusReason string `json:"status_reason,omitempty"`
	// Version is the tool's version and commit that made the outputs.
	Version string `json:"version"`
	concept.Stats
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
	ShardsProcessed              int64          `json:"shards_processed"` // read in this run (the others were reused from --state)
	RowsInParts                  int64          `json:"rows_in_parts"`    // rows written to the rejects/, image_scores/, sample_concepts/ and near_duplicates/ parts
	// NearDuplicateControl is similarity control's summary (absent without
	// --near_duplicates).
	NearDuplicateControl *NearSummary `json:"similarity_control,omitempty"`
}

// Run statuses (run_stats.json's status).
const (
	StatusComplete = "complete"
	StatusFailed   = "failed"
)

// Verdict fails a run that counted nothing it should have: no sample could
// be read, every shard failed, or more than maxReject of the samples read
// were rejected. The outputs are written either way; run_stats.json then
// says failed, with this reason.
func Verdict(rs *RunStats, maxReject float64) error {
	switch {
	case rs.ShardsRead == 0 && rs.ShardsFailed > 0 && rs.SamplesRead == 0:
		return fmt.Errorf("every input shard failed and no sample could be read (%s; see rejects/)", shardReasons(rs))
	case rs.SamplesRead == 0:
		return fmt.Errorf("no sample could be read from %d shard(s)", rs.ShardsRead+rs.ShardsFailed)
	case rs.ShardsRead == 0 && rs.ShardsFailed > 0:
		return fmt.Errorf("every input shard failed (%s); the %d samples read before the damage are counted", shardReasons(rs), rs.SamplesRead)
	}
	if f := float64(rs.SampleRejects) / float64(rs.SamplesRead); f > maxReject {
		return fmt.Errorf("%d of %d samples rejected (%.1f%%), more than --max_reject_fraction=%g; outputs and rejects are written", rs.SampleRejects, rs.SamplesRead, 100*f, maxReject)
	}
	return nil
}

// shardReasons lists the shard-level reject reasons of a run.
func shardReasons(rs *RunStats) string {
	var out []string
	for r, n := range rs.Rejects {
		if shard.IsShardReason(r) {
			out = append(out, fmt.Sprintf("%s: %d", r, n))
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// WriteOutputs writes concept_counts.parquet (one row per concept of cfg,
// zeros included), the rejects/ parts and run_stats.json (with record) into
// cfg.Output, and the image_scores/ and sample_concepts/ parts when asked
// for. The row outputs grow with the crawl, so they never pass through one
// worker: rows are grouped by input shard and each shard's part is written
// by the worker holding the group (tables.PartName). The small outputs are
// written by one DoFn that reads the combined counts and statistics, and
// the total of rows the parts hold, as side inputs: so run_stats.json,
// written last, appears only once every part is in place.
func WriteOutputs(s beam.Scope, cfg Config, record RunConfig, start time.Time, out Outputs) {
	s = s.Scope("count.WriteOutputs")
	written := []beam.PCollection{
		beam.ParDo(s, &writeRejectPartFn{Dir: paths.Join(cfg.Output, tables.RejectsDir)},
			beam.GroupByKey(s, beam.ParDo(s, keyReject, out.Rejects))),
	}
	if record.Image != nil && record.Image.EmitScores {
		written = append(written, beam.ParDo(s, &writeScorePartFn{Dir: paths.Join(cfg.Output, tables.ImageScoresDir)},
			beam.GroupByKey(s, beam.ParDo(s, keyScore, out.Scores))))
	}
	if record.EmitSamples {
		written = append(written, beam.ParDo(s, &writeSamplePartFn{Dir: paths.Join(cfg.Output, tables.SampleConceptsDir)},
			beam.GroupByKey(s, beam.ParDo(s, keySample, out.Samples))))
	}
	if record.Image != nil && record.Image.NearDuplicates != nil {
		written = append(written, beam.ParDo(s, &writeNearPartFn{Dir: paths.Join(cfg.Output, tables.NearDuplicatesDir)},
			beam.GroupByKey(s, beam.ParDo(s, keyNear, out.Near))))
	}
	rows := beam.Combine(s, sumRows, beam.Flatten(s, written...))
	imp := beam.Impulse(s)
	beam.ParDo0(s, &writeOutputsFn{Dir: cfg.Output, Version: cfg.Version, Concepts: cfg.Names(), Config: record, StartUnixNano: start.UnixNano()}, imp,
		beam.SideInput{Input: out.Counts}, beam.SideInput{Input: out.Stats}, beam.SideInput{Input: rows})
}

func keyReject(r tables.Reject) (string, tables.Reject)       { return r.Shard, r }
func keyScore(r tables.ScoreRow) (string, tables.ScoreRow)    { return r.Shard, r }
func keySample(r tables.SampleRow) (string, tables.SampleRow) { return r.Shard, r }
func keyNear(r tables.NearRow) (string, tables.NearRow)       { return r.Shard, r }
func sumRows(a, b int64) int64                                { return a + b }

// writeRejectPartFn writes one input shard's reject rows as a part of
// Dir and emits how many it wrote.
type writeRejectPartFn struct{ Dir string }

func (f *writeRejectPartFn) ProcessElement(ctx context.Context, shard string, rows func(*tables.Reject) bool, emit func(int64)) error {
	return writePart(ctx, f.Dir, shard, tables.NewRejectWriter, rows, (*tables.RowWriter).WriteReject, emit)
}

// writeScorePartFn writes one input shard's image scores as a part of Dir.
type writeScorePartFn struct{ Dir string }

func (f *writeScorePartFn) ProcessElement(ctx context.Context, shard string, rows func(*tables.ScoreRow) bool, emit func(int64)) error {
	return writePart(ctx, f.Dir, shard, tables.NewScoreWriter, rows, (*tables.RowWriter).WriteScore, emit)
}

// writeSamplePartFn writes one input shard's sample rows as a part of Dir.
type writeSamplePartFn struct{ Dir string }

func (f *writeSamplePartFn) ProcessElement(ctx context.Context, shard string, rows func(*tables.SampleRow) bool, emit func(int64)) error {
	return writePart(ctx, f.Dir, shard, tables.NewSampleWriter, rows, (*tables.RowWriter).WriteSample, emit)
}

// writeNearPartFn writes one input shard's near_duplicates rows as a part
// of Dir.
type writeNearPartFn struct{ Dir string }

func (f *writeNearPartFn) ProcessElement(ctx context.Context, shard string, rows func(*tables.NearRow) bool, emit func(int64)) error {
	return writePart(ctx, f.Dir, shard, tables.NewNearWriter, rows, (*tables.RowWriter).WriteNear, emit)
}

// writePart streams a shard's grouped rows into Dir/PartName(shard),
// atomically, and emits the number of rows.
func writePart[T any](ctx context.Context, dir, shard string, open func(io.Writer, memory.Allocator) (*tables.RowWriter, error),
	next func(*T) bool, write func(*tables.RowWriter, T) error, emit func(int64)) error {
	var n int64
	err := beamfs.WriteAtomic(ctx, paths.Join(dir, tables.PartName(shard)), func(w io.Writer) error {
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
			n++
		}
		return rw.Close()
	})
	if err != nil {
		return err
	}
	emit(n)
	return nil
}

// ClearRowOutputs removes the parts an earlier run left in dir's row
// output directories (and the single-file row outputs of versions before
// them), so that an --overwrite run's directories hold its own shards only.
func ClearRowOutputs(ctx context.Context, dir string) error {
	for _, legacy := range []string{tables.RejectsFile, tables.ImageScoresFile, tables.SampleConceptsFile} {
		if err := beamfs.Remove(ctx, paths.Join(dir, legacy)); err != nil {
			return err
		}
	}
	for _, d := range tables.RowDirs {
		// The parts, and the temporary files of a run killed mid-write
		// (hidden now, visible *.parquet.tmp-* before).
		for _, glob := range []string{"*.parquet", beamfs.TempPrefix + "*", "*.parquet.tmp-*"} {
			old, err := beamfs.List(ctx, paths.Join(paths.Join(dir, d), glob))
			if err != nil {
				if beamfs.IsNotExist(err) {
					continue
				}
				return fmt.Errorf("count: clearing %s: %w", paths.Join(dir, d), err)
			}
			for _, f := range old {
				if err := beamfs.Remove(ctx, f); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

type writeOutputsFn struct {
	Dir           string
	Version       string
	Concepts      []string
	Config        RunConfig
	StartUnixNano int64
}

// ProcessElement writes the run's small outputs once every part is in
// place: the concept counts, the schema parts of the row directories, then
// report.html and, last, run_stats.json.
func (f *writeOutputsFn) ProcessElement(ctx context.Context, _ []byte, counts func(*string, *concept.Tally) bool, sts func(*concept.Stats) bool,
	partRows func(*int64) bool) error {
	rows, err := f.conceptRows(counts)
	if err != nil {
		return err
	}
	if err := beamfs.WriteAtomic(ctx, paths.Join(f.Dir, tables.ConceptCountsFile), func(w io.Writer) error {
		return tables.WriteConceptCounts(w, rows, nil)
	}); err != nil {
		return err
	}
	outputs, err := f.writeSchemaParts(ctx)
	if err != nil {
		return err
	}
	total := concept.Stats{Rejects: map[string]int64{}}
	var st concept.Stats
	for sts(&st) {
		total.Merge(st)
	}
	var partRowsTotal, k int64
	for partRows(&k) {
		partRowsTotal += k
	}
	rs := f.runStats(total, rows, partRowsTotal)
	rs.Status, rs.Version = StatusComplete, f.Version
	if err := Verdict(&rs, f.Config.MaxRejectFraction); err != nil {
		rs.Status, rs.StatusReason = StatusFailed, err.Error()
	}
	rs.OutputFiles = append(append([]string{tables.ConceptCountsFile}, outputs...), ReportFile, tables.RunStatsFile)
	page, err := renderCountReport(rs, rows)
	if err != nil {
		return err
	}
	if err := beamfs.WriteAtomic(ctx, paths.Join(f.Dir, ReportFile), func(w io.Writer) error { _, err := w.Write(page); return err }); err != nil {
		return err
	}
	return beamfs.WriteAtomic(ctx, paths.Join(f.Dir, tables.RunStatsFile), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rs)
	})
}

// conceptRows combines the counted tallies into one row per vocabulary
// concept, in vocabulary order: the study rule's histograms resolved, the
// image-side columns null for concepts the tagger does not know.
func (f *writeOutputsFn) conceptRows(counts func(*string, *concept.Tally) bool) ([]tables.ConceptCount, error) {
	byName := make(map[string]concept.Tally, len(f.Concepts))
	var name string
	var n concept.Tally
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
	near := f.Config.Image != nil && f.Config.Image.NearDuplicates != nil
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
		if near {
			// Similarity control: the counts less the near-duplicates'.
			rows[i].TextCountDissimilar = ptr(rows[i].TextCount - t.NearText)
			if rows[i].ImageCount != nil {
				rows[i].ImageCountDissimilar, rows[i].MatchedCountDissimilar = ptr(t.Image-t.NearImage), ptr(t.Matched-t.NearMatched)
			}
		}
		delete(byName, c)
	}
	if len(byName) != 0 {
		return nil, fmt.Errorf("count: %d counted concepts are not in the vocabulary (first: %v)", len(byName), firstKey(byName))
	}
	return rows, nil
}

// writeSchemaParts writes a part of zero rows into each row directory the
// run fills, so that the directory reads as a table even when no shard had
// a row; it returns the directories, as run_stats.json lists them.
func (f *writeOutputsFn) writeSchemaParts(ctx context.Context) ([]string, error) {
	var outputs []string
	dirs := []struct {
		name string
		open func(io.Writer, memory.Allocator) (*tables.RowWriter, error)
		on   bool
	}{
		{tables.RejectsDir, tables.NewRejectWriter, true},
		{tables.ImageScoresDir, tables.NewScoreWriter, f.Config.Image != nil && f.Config.Image.EmitScores},
		{tables.SampleConceptsDir, tables.NewSampleWriter, f.Config.EmitSamples},
		{tables.NearDuplicatesDir, tables.NewNearWriter, f.Config.Image != nil && f.Config.Image.NearDuplicates != nil},
	}
	for _, d := range dirs {
		if !d.on {
			continue
		}
		if err := beamfs.WriteAtomic(ctx, paths.Join(paths.Join(f.Dir, d.name), tables.SchemaPart), func(w io.Writer) error {
			rw, err := d.open(w, nil)
			if err != nil {
				return err
			}
			return rw.Close()
		}); err != nil {
			return nil, err
		}
		outputs = append(outputs, d.name+"/")
	}
	return outputs, nil
}

// runStats derives run_stats.json's figures from the merged statistics
// and the concept rows.
func (f *writeOutputsFn) runStats(total concept.Stats, rows []tables.ConceptCount, partRowsTotal int64) RunStats {
	rs := RunStats{Stats: total, Config: f.Config, StartedAt: time.Unix(0, f.StartUnixNano).UTC(), RowsInParts: partRowsTotal}
	rs.Config.Files = int(total.ShardsRead + total.ShardsFailed)
	rs.ShardsProcessed = total.ShardsRead + total.ShardsFailed - total.ShardsReused
	for reason, k := range total.Rejects {
		switch {
		case shard.IsShardReason(reason):
		case concept.IsImageReason(reason):
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
			rs.TopConcepts = append(rs.TopConcepts, ConceptTotal{Concept: r.Concept, TextCount: r.TextCount, ImageCount: r.ImageCount, MatchedCount: r.MatchedCount})
		}
	}
	if f.Config.Image != nil && f.Config.Image.NearDuplicates != nil {
		rs.NearDuplicateControl = nearSummary(f.Config.Image.NearDuplicates, total, rows)
	}
	rs.FinishedAt = time.Now().UTC()
	rs.WallSeconds = rs.FinishedAt.Sub(rs.StartedAt).Seconds()
	if rs.WallSeconds > 0 {
		rs.SamplesPerSecond = float64(total.SamplesRead) / rs.WallSeconds
	}
	return rs
}

func firstKey[V any](m map[string]V) string {
	for k := range m {
		return k
	}
	return ""
}
