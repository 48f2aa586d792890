package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/runners"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
	"github.com/conceptfreq/conceptfreq/transforms/count"
)

// DefaultInput is the bundled data the job runs on when --input is not given.
const DefaultInput = "testdata/shards/*.tar,testdata/shards/*.tar.gz,testdata/shards/*.tgz"

// Config is everything Build needs; main fills it from flags.
type Config struct {
	Inputs        []string // patterns as given
	Files         []string // the files they matched
	Vocabulary    *caption.Vocabulary
	Output        string
	Rule          caption.Rule
	POS           caption.POS
	CaptionExt    string
	CaptionColumn string
	Start         time.Time
}

// Build adds the count job to s: shards → caption matches → per-concept
// counts, rejects and run statistics written into cfg.Output.
func Build(s beam.Scope, cfg Config) {
	files := beam.CreateList(s, cfg.Files)
	counts, rejects, st := count.Captions(s, files, count.Config{
		Concepts:      cfg.Vocabulary.Concepts,
		Rule:          cfg.Rule,
		POS:           cfg.POS,
		CaptionExt:    cfg.CaptionExt,
		CaptionColumn: cfg.CaptionColumn,
	})
	rc := count.RunConfig{
		Inputs:           cfg.Inputs,
		Files:            len(cfg.Files),
		VocabularySource: cfg.Vocabulary.Source,
		VocabularySize:   len(cfg.Vocabulary.Concepts),
		VocabularyHash:   cfg.Vocabulary.Hash(),
		Match:            string(cfg.Rule),
		POS:              string(cfg.POS),
		Lemmatizer:       caption.LemmatizerName,
		CaptionExt:       cfg.CaptionExt,
		CaptionColumn:    cfg.CaptionColumn,
		Runner:           runners.Name(),
	}
	count.WriteOutputs(s, cfg.Output, cfg.Vocabulary.Names(), rc, cfg.Start, counts, rejects, st)
}

// ExpandInputs resolves comma-separated patterns (local globs, gs:// globs,
// directories) into a sorted, de-duplicated list of files. A pattern that
// matches nothing is an error naming it.
func ExpandInputs(ctx context.Context, patterns []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, p := range patterns {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		globs := []string{p}
		if !strings.Contains(p, "://") {
			if fi, err := os.Stat(p); err == nil && fi.IsDir() {
				globs = nil
				for _, ext := range []string{"*.tar", "*.tar.gz", "*.tgz", "*.parquet"} {
					globs = append(globs, filepath.Join(p, ext))
				}
			}
		} else if strings.HasSuffix(p, "/") {
			globs = []string{p + "*.tar", p + "*.tar.gz", p + "*.tgz", p + "*.parquet"}
		}
		matched := 0
		for _, g := range globs {
			fs, err := filesystem.New(ctx, g)
			if err != nil {
				return nil, fmt.Errorf("--input %s: %w", p, err)
			}
			list, err := fs.List(ctx, g)
			fs.Close()
			if err != nil {
				return nil, fmt.Errorf("--input %s: %w", p, err)
			}
			for _, f := range list {
				matched++
				if !seen[f] {
					seen[f] = true
					out = append(out, f)
				}
			}
		}
		if matched == 0 {
			return nil, fmt.Errorf("--input %s matched no files", p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--input names no files")
	}
	sort.Strings(out)
	return out, nil
}

// CheckOutput refuses an existing non-empty output directory unless
// overwrite is set.
func CheckOutput(ctx context.Context, dir string, overwrite bool) error {
	if strings.TrimSpace(dir) == "" {
		return fmt.Errorf("--output is empty")
	}
	if overwrite {
		return nil
	}
	if !strings.Contains(dir, "://") {
		entries, err := os.ReadDir(dir)
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return fmt.Errorf("--output %s: %w", dir, err)
		}
		if len(entries) > 0 {
			return fmt.Errorf("--output %s exists and is not empty (%d entries); pass --overwrite to replace its outputs", dir, len(entries))
		}
		return nil
	}
	fs, err := filesystem.New(ctx, dir)
	if err != nil {
		return fmt.Errorf("--output %s: %w", dir, err)
	}
	defer fs.Close()
	list, err := fs.List(ctx, count.JoinPath(dir, "*"))
	if err != nil {
		return fmt.Errorf("--output %s: %w", dir, err)
	}
	if len(list) > 0 {
		return fmt.Errorf("--output %s is not empty (%d objects); pass --overwrite to replace its outputs", dir, len(list))
	}
	return nil
}

// LoadVocabulary reads --concepts (local or gs://), or the embedded default
// when path is empty.
func LoadVocabulary(ctx context.Context, path string) (*caption.Vocabulary, error) {
	if path == "" {
		return caption.DefaultVocabulary()
	}
	lem, err := caption.English()
	if err != nil {
		return nil, err
	}
	fs, err := filesystem.New(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("--concepts %s: %w", path, err)
	}
	defer fs.Close()
	rc, err := fs.OpenRead(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("--concepts %s: %w", path, err)
	}
	defer rc.Close()
	return caption.ParseVocabulary(rc, path, lem)
}

// ReadRunStats reads run_stats.json back from a finished run.
func ReadRunStats(ctx context.Context, dir string) (*count.RunStats, error) {
	path := count.JoinPath(dir, tables.RunStatsFile)
	fs, err := filesystem.New(ctx, path)
	if err != nil {
		return nil, err
	}
	defer fs.Close()
	rc, err := fs.OpenRead(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	defer rc.Close()
	var rs count.RunStats
	if err := json.NewDecoder(rc).Decode(&rs); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return &rs, nil
}

// PrintSummary writes the human summary of a run.
func PrintSummary(w io.Writer, dir string, rs *count.RunStats) {
	fmt.Fprintf(w, "conceptfreq count: %d shards read (%d failed), %d samples read, %d with a caption, %d rejected\n",
		rs.ShardsRead, rs.ShardsFailed, rs.SamplesRead, rs.SamplesWithCaption, rs.SampleRejects)
	if len(rs.Rejects) > 0 {
		reasons := make([]string, 0, len(rs.Rejects))
		for r := range rs.Rejects {
			reasons = append(reasons, r)
		}
		sort.Strings(reasons)
		fmt.Fprintln(w, "rejects by reason:")
		for _, r := range reasons {
			unit := "samples"
			if count.IsShardReason(r) {
				unit = "shards"
			}
			fmt.Fprintf(w, "  %-26s %8d %s\n", r, rs.Rejects[r], unit)
		}
	}
	fmt.Fprintf(w, "vocabulary: %d concepts (%s), %d matched at least once; match=%s pos=%s\n",
		rs.Config.VocabularySize, rs.Config.VocabularySource, rs.ConceptsNonZero, rs.Config.Match, rs.Config.POS)
	if len(rs.TopConcepts) > 0 {
		fmt.Fprintln(w, "top concepts by text_count:")
		for _, c := range rs.TopConcepts {
			fmt.Fprintf(w, "  %-30s %8d\n", c.Concept, c.TextCount)
		}
	}
	fmt.Fprintf(w, "throughput: %.0f samples/s over %.1f s wall (%s runner)\n", rs.SamplesPerSecond, rs.WallSeconds, rs.Config.Runner)
	fmt.Fprintf(w, "outputs in %s: %s\n", dir, strings.Join(rs.OutputFiles, ", "))
}
