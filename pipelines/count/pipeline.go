package main

import (
	"bytes"
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
	"github.com/conceptfreq/conceptfreq/models/ort"
	"github.com/conceptfreq/conceptfreq/models/tagging"
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
	EmitSamples   bool
	Image         count.ImageConfig
	ImageRun      *count.ImageRunConfig // what run_stats records; set by PrepareImage
	Start         time.Time
}

// Build adds the count job to s: shards → caption matches → per-concept
// counts, rejects and run statistics written into cfg.Output.
func Build(s beam.Scope, cfg Config) {
	files := beam.CreateList(s, cfg.Files)
	out := count.Captions(s, files, count.Config{
		Concepts:      cfg.Vocabulary.Concepts,
		Rule:          cfg.Rule,
		POS:           cfg.POS,
		CaptionExt:    cfg.CaptionExt,
		CaptionColumn: cfg.CaptionColumn,
		EmitSamples:   cfg.EmitSamples,
		Image:         cfg.Image,
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
		EmitSamples:      cfg.EmitSamples,
		Image:            cfg.ImageRun,
	}
	count.WriteOutputs(s, cfg.Output, cfg.Vocabulary.Names(), rc, cfg.Start, out)
}

// PrepareImage validates the image-side configuration at launch, without
// ONNX Runtime: it reads the model's metadata and labels or concept
// embeddings, resolves the preprocessing and lists the vocabulary concepts
// the tagger does not know (or, for --scores, reads the earlier run's). It
// fills cfg.ImageRun; a text-only configuration leaves it nil.
func PrepareImage(ctx context.Context, cfg *Config) error {
	ic := &cfg.Image
	if !ic.Enabled() {
		return nil
	}
	if ic.Threshold < 0 || ic.Threshold >= 1 && ic.Tagger != tagging.Embedding {
		return fmt.Errorf("--threshold %v: want a score in [0, 1)", ic.Threshold)
	}
	validDevice := false
	for _, d := range ort.Devices {
		validDevice = validDevice || d == ic.Device
	}
	if !validDevice {
		return fmt.Errorf("--device %q: want one of %v", ic.Device, ort.Devices)
	}
	if ic.BatchSize <= 0 {
		return fmt.Errorf("--batch_size %d: want at least 1", ic.BatchSize)
	}
	run := &count.ImageRunConfig{Tagger: ic.Tagger, Model: ic.Model, Threshold: ic.Threshold, Device: ic.Device,
		BatchSize: ic.BatchSize, EmitScores: ic.EmitScores, ScoreFloor: ic.ScoreFloor}
	if ic.EmitScores && ic.ScoreFloor > ic.Threshold {
		return fmt.Errorf("--score_floor %v is above --threshold %v: saved scores could not recount this run", ic.ScoreFloor, ic.Threshold)
	}
	if ic.ScoresDir != "" {
		prev, err := ReadRunStats(ctx, ic.ScoresDir)
		if err != nil {
			return fmt.Errorf("--scores: %w", err)
		}
		if prev.Config.Image == nil || !prev.Config.Image.EmitScores {
			return fmt.Errorf("--scores %s: that run did not save image scores (--emit_scores)", ic.ScoresDir)
		}
		if ic.Threshold < prev.Config.Image.ScoreFloor {
			return fmt.Errorf("--threshold %v is below the saved scores' floor %v: scores under the floor were not kept", ic.Threshold, prev.Config.Image.ScoreFloor)
		}
		ic.EmitScores = false
		run.Tagger, run.Model, run.ScoresDir = prev.Config.Image.Tagger, prev.Config.Image.Model, ic.ScoresDir
		run.InputSize, run.Resize, run.Mean, run.Std = prev.Config.Image.InputSize, prev.Config.Image.Resize, prev.Config.Image.Mean, prev.Config.Image.Std
		run.EmitScores = false
		// Known concepts: those the earlier run gave an image count. Concepts
		// of this vocabulary it did not have, or did not know, are unknown.
		b, err := count.ReadFile(ctx, count.JoinPath(ic.ScoresDir, tables.ConceptCountsFile))
		if err != nil {
			return fmt.Errorf("--scores: %w", err)
		}
		prevRows, err := tables.ReadConceptCounts(bytes.NewReader(b), nil)
		if err != nil {
			return fmt.Errorf("--scores: %w", err)
		}
		known := map[string]bool{}
		for _, r := range prevRows {
			if r.ImageCount != nil {
				known[r.Concept] = true
			}
		}
		run.UnknownConcepts = []string{}
		for _, name := range cfg.Vocabulary.Names() {
			if !known[name] {
				run.UnknownConcepts = append(run.UnknownConcepts, name)
			}
		}
		ic.UnknownConcepts = run.UnknownConcepts
		cfg.ImageRun = run
		return nil
	}
	if ic.Model == "" {
		return fmt.Errorf("--tagger=%s needs --model", ic.Tagger)
	}
	head, md, err := ic.Head(ctx, cfg.Vocabulary, count.ReadFile)
	if err != nil {
		return err
	}
	opts, err := ic.Preprocessing(md)
	if err != nil {
		return err
	}
	run.InputSize, run.Resize, run.Mean, run.Std = opts.Size, opts.Resize, opts.Mean[:], opts.Std[:]
	run.UnknownConcepts = head.Unknown(cfg.Vocabulary.Names())
	if len(run.UnknownConcepts) == len(cfg.Vocabulary.Concepts) {
		return fmt.Errorf("--model %s: the tagger knows none of the %d vocabulary concepts (check --labels / --concept_embeddings)", ic.Model, len(cfg.Vocabulary.Concepts))
	}
	if run.UnknownConcepts == nil {
		run.UnknownConcepts = []string{}
	}
	ic.UnknownConcepts = run.UnknownConcepts
	cfg.ImageRun = run
	return nil
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
	b, err := count.ReadFile(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("--concepts %s: %w", path, err)
	}
	return caption.ParseVocabulary(bytes.NewReader(b), path, lem)
}

// ReadRunStats reads run_stats.json back from a finished run.
func ReadRunStats(ctx context.Context, dir string) (*count.RunStats, error) {
	path := count.JoinPath(dir, tables.RunStatsFile)
	b, err := count.ReadFile(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var rs count.RunStats
	if err := json.Unmarshal(b, &rs); err != nil {
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
	if im := rs.Config.Image; im != nil {
		fmt.Fprintf(w, "images: %d tagged (%s, threshold %g), %d image rejects, %d concepts unknown to the tagger\n",
			rs.ImagesTagged, im.Tagger, im.Threshold, rs.ImageRejects, len(im.UnknownConcepts))
		fmt.Fprintf(w, "misalignment: %d of %d considered samples (%.1f%%; %.1f%% of all samples)\n",
			rs.Misaligned, rs.MisalignmentConsidered, 100*rs.MisalignmentDegreeConsidered, 100*rs.MisalignmentDegree)
	}
	fmt.Fprintf(w, "throughput: %.0f samples/s over %.1f s wall (%s runner)\n", rs.SamplesPerSecond, rs.WallSeconds, rs.Config.Runner)
	fmt.Fprintf(w, "outputs in %s: %s\n", dir, strings.Join(rs.OutputFiles, ", "))
}
