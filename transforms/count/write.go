package count

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/conceptfreq/conceptfreq/io/tables"
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

// RunConfig is what run_stats.json records about the configuration.
type RunConfig struct {
	Inputs           []string        `json:"inputs"`
	Files            int             `json:"files"`
	VocabularySource string          `json:"vocabulary"`
	VocabularySize   int             `json:"vocabulary_size"`
	VocabularyHash   string          `json:"vocabulary_sha256"`
	Match            string          `json:"match"`
	POS              string          `json:"pos"`
	Lemmatizer       string          `json:"lemmatizer"`
	CaptionExt       string          `json:"caption_ext"`
	CaptionColumn    string          `json:"caption_column"`
	Runner           string          `json:"runner"`
	EmitSamples      bool            `json:"emit_samples"`
	Image            *ImageRunConfig `json:"image,omitempty"`
}

// ImageRunConfig is what run_stats.json records about image tagging.
type ImageRunConfig struct {
	Tagger          string    `json:"tagger"`
	Model           string    `json:"model,omitempty"`
	ScoresDir       string    `json:"recounted_from,omitempty"`
	Threshold       float64   `json:"threshold"`
	Device          string    `json:"device"`
	BatchSize       int       `json:"batch_size"`
	InputSize       int       `json:"input_size"`
	Resize          string    `json:"resize"`
	Mean            []float32 `json:"mean"`
	Std             []float32 `json:"std"`
	EmitScores      bool      `json:"emit_scores"`
	ScoreFloor      float64   `json:"score_floor"`
	UnknownConcepts []string  `json:"unknown_concepts"`
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

// WriteOutputs writes concept_counts.parquet (one row per concept in
// names, zeros included), rejects.parquet and run_stats.json into dir, and
// image_scores.parquet / sample_concepts.parquet when asked for. It runs as
// one DoFn reading the outputs of Captions as (streamed) side inputs.
func WriteOutputs(s beam.Scope, dir string, names []string, cfg RunConfig, start time.Time, out Outputs) {
	s = s.Scope("count.WriteOutputs")
	imp := beam.Impulse(s)
	beam.ParDo0(s, &writeOutputsFn{Dir: dir, Concepts: names, Config: cfg, StartUnixNano: start.UnixNano()}, imp,
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
		if f.Config.Image != nil && !unknown[c] {
			rows[i].ImageCount, rows[i].MatchedCount = ptr(t.Image), ptr(t.Matched)
			rows[i].TextOnlyCount, rows[i].ImageOnlyCount = ptr(t.TextOnly), ptr(t.ImageOnly)
		}
		delete(byName, c)
	}
	if len(byName) != 0 {
		return fmt.Errorf("count: %d counted concepts are not in the vocabulary (first: %v)", len(byName), firstKey(byName))
	}
	if err := writeFile(ctx, JoinPath(f.Dir, tables.ConceptCountsFile), func(w io.Writer) error {
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
	if err := writeRows(ctx, JoinPath(f.Dir, tables.RejectsFile), tables.NewRejectWriter, rejects, (*tables.RowWriter).WriteReject); err != nil {
		return err
	}

	outputs := []string{tables.ConceptCountsFile, tables.RejectsFile}
	if f.Config.Image != nil && f.Config.Image.EmitScores {
		if err := writeRows(ctx, JoinPath(f.Dir, tables.ImageScoresFile), tables.NewScoreWriter, scores, (*tables.RowWriter).WriteScore); err != nil {
			return err
		}
		outputs = append(outputs, tables.ImageScoresFile)
	}
	if f.Config.EmitSamples {
		if err := writeRows(ctx, JoinPath(f.Dir, tables.SampleConceptsFile), tables.NewSampleWriter, samples, (*tables.RowWriter).WriteSample); err != nil {
			return err
		}
		outputs = append(outputs, tables.SampleConceptsFile)
	}

	rs := RunStats{Stats: total, Config: f.Config, StartedAt: time.Unix(0, f.StartUnixNano).UTC()}
	for reason, k := range total.Rejects {
		switch {
		case IsShardReason(reason):
		case IsImageReason(reason):
			rs.ImageRejects += k
		default:
			rs.SampleRejects += k
		}
	}
	if total.SamplesRead > 0 {
		rs.MisalignmentDegree = float64(total.Misaligned) / float64(total.SamplesRead)
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
	rs.OutputFiles = append(outputs, tables.RunStatsFile)
	return writeFile(ctx, JoinPath(f.Dir, tables.RunStatsFile), func(w io.Writer) error {
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
	return writeFile(ctx, path, func(w io.Writer) error {
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

// JoinPath joins a directory (local or URL-like, e.g. gs://b/dir) and a name.
func JoinPath(dir, name string) string {
	return strings.TrimSuffix(dir, "/") + "/" + name
}

// ReadFile reads a whole file through the Beam filesystem registered for
// its scheme (local, gs://, memfs://).
func ReadFile(ctx context.Context, path string) ([]byte, error) {
	fs, err := filesystem.New(ctx, path)
	if err != nil {
		return nil, err
	}
	defer fs.Close()
	rc, err := fs.OpenRead(ctx, path)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// writeFile writes path through the Beam filesystem and checks the commit
// error of Close.
func writeFile(ctx context.Context, path string, fill func(io.Writer) error) error {
	fs, err := filesystem.New(ctx, path)
	if err != nil {
		return fmt.Errorf("count: %s: %w", path, err)
	}
	defer fs.Close()
	w, err := fs.OpenWrite(ctx, path)
	if err != nil {
		return fmt.Errorf("count: open %s for writing: %w", path, err)
	}
	if err := fill(w); err != nil {
		w.Close()
		return fmt.Errorf("count: write %s: %w", path, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("count: commit %s: %w", path, err)
	}
	return nil
}
