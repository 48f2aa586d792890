package count

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/conceptfreq/conceptfreq/io/tables"
)

func init() {
	register.DoFn5x1[context.Context, []byte, func(*string, *int64) bool, func(*Stats) bool, func(*tables.Reject) bool, error](&writeOutputsFn{})
	register.Iter2[string, int64]()
	register.Iter1[Stats]()
	register.Iter1[tables.Reject]()
}

// RunConfig is what run_stats.json records about the configuration.
type RunConfig struct {
	Inputs           []string `json:"inputs"`
	Files            int      `json:"files"`
	VocabularySource string   `json:"vocabulary"`
	VocabularySize   int      `json:"vocabulary_size"`
	VocabularyHash   string   `json:"vocabulary_sha256"`
	Match            string   `json:"match"`
	POS              string   `json:"pos"`
	Lemmatizer       string   `json:"lemmatizer"`
	CaptionExt       string   `json:"caption_ext"`
	CaptionColumn    string   `json:"caption_column"`
	Runner           string   `json:"runner"`
}

// ConceptTotal is one entry of run_stats.json's top_concepts.
type ConceptTotal struct {
	Concept   string `json:"concept"`
	TextCount int64  `json:"text_count"`
}

// RunStats is the content of run_stats.json.
type RunStats struct {
	Stats
	SampleRejects    int64          `json:"sample_rejects"`
	ConceptsNonZero  int            `json:"concepts_with_matches"`
	TopConcepts      []ConceptTotal `json:"top_concepts"`
	Config           RunConfig      `json:"config"`
	StartedAt        time.Time      `json:"started_at"`
	FinishedAt       time.Time      `json:"finished_at"`
	WallSeconds      float64        `json:"wall_seconds"`
	SamplesPerSecond float64        `json:"samples_per_second"`
	ImageTaggingRan  bool           `json:"image_tagging"`
	OutputFiles      []string       `json:"output_files"`
}

// WriteOutputs writes concept_counts.parquet (one row per concept in
// names, zeros included), rejects.parquet and run_stats.json into dir.
// counts is PCollection<KV<string,int64>>, rejects PCollection<tables.Reject>
// and st PCollection<Stats>.
func WriteOutputs(s beam.Scope, dir string, names []string, cfg RunConfig, start time.Time, counts, rejects, st beam.PCollection) {
	s = s.Scope("count.WriteOutputs")
	imp := beam.Impulse(s)
	beam.ParDo0(s, &writeOutputsFn{Dir: dir, Concepts: names, Config: cfg, StartUnixNano: start.UnixNano()}, imp,
		beam.SideInput{Input: counts}, beam.SideInput{Input: st}, beam.SideInput{Input: rejects})
}

type writeOutputsFn struct {
	Dir           string
	Concepts      []string
	Config        RunConfig
	StartUnixNano int64
}

func (f *writeOutputsFn) ProcessElement(ctx context.Context, _ []byte, counts func(*string, *int64) bool, sts func(*Stats) bool, rejects func(*tables.Reject) bool) error {
	byName := make(map[string]int64, len(f.Concepts))
	var name string
	var n int64
	for counts(&name, &n) {
		byName[name] += n
	}
	rows := make([]tables.ConceptCount, len(f.Concepts))
	for i, c := range f.Concepts {
		rows[i] = tables.ConceptCount{Concept: c, TextCount: byName[c]}
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
	var rej tables.Reject
	if err := writeFile(ctx, JoinPath(f.Dir, tables.RejectsFile), func(w io.Writer) error {
		rw, err := tables.NewRejectWriter(w, nil)
		if err != nil {
			return err
		}
		for rejects(&rej) {
			if err := rw.Write(rej); err != nil {
				rw.Close()
				return err
			}
		}
		return rw.Close()
	}); err != nil {
		return err
	}

	rs := RunStats{Stats: total, Config: f.Config, StartedAt: time.Unix(0, f.StartUnixNano).UTC()}
	for reason, k := range total.Rejects {
		if !IsShardReason(reason) {
			rs.SampleRejects += k
		}
	}
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
	rs.OutputFiles = []string{tables.ConceptCountsFile, tables.RejectsFile, tables.RunStatsFile}
	return writeFile(ctx, JoinPath(f.Dir, tables.RunStatsFile), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rs)
	})
}

func firstKey(m map[string]int64) string {
	for k := range m {
		return k
	}
	return ""
}

// JoinPath joins a directory (local or URL-like, e.g. gs://b/dir) and a name.
func JoinPath(dir, name string) string {
	return strings.TrimSuffix(dir, "/") + "/" + name
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
