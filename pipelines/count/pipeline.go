package main

import (
	"context"
	"fmt"
	"github.com/conceptfreq/conceptfreq/io/beamfs"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/conceptfreq/conceptfreq/internal/report"
	"github.com/conceptfreq/conceptfreq/runners"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
	"github.com/conceptfreq/conceptfreq/transforms/count"
)

// DefaultInput is the bundled data the job runs on when --input is not
// given: three img2dataset-style shards of 1,000 real LAION-400M captions.
const DefaultInput = "testdata/shards/*.tar,testdata/shards/*.tar.gz"

// DefaultInputs returns the bundled shards' patterns: as DefaultInput when
// the working directory is the repository, else under the module's source
// directory (from this file's compiled path), so that `go run` of the
// module and an installed binary find them from any directory.
func DefaultInputs() []string {
	patterns := strings.Split(DefaultInput, ",")
	if _, err := os.Stat("testdata/shards"); err == nil {
		return patterns
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return patterns
	}
	root := filepath.Join(filepath.Dir(file), "..", "..")
	if _, err := os.Stat(filepath.Join(root, "testdata", "shards")); err != nil {
		return patterns
	}
	out := make([]string, len(patterns))
	for i, p := range patterns {
		out[i] = filepath.Join(root, p)
	}
	return out
}

// Build adds the count job to s: the shards cfg.Inputs name (patterns,
// matched on a worker: count.MatchInputs) → caption matches (and image
// tags) → per-concept counts, rejects and run statistics written into
// cfg.Output. cfg is the resolved configuration (count.Request.Resolve); start is the
// run's start time, recorded in run_stats.json.
func Build(s beam.Scope, cfg count.Config, start time.Time) {
	shards := count.MatchInputs(s, cfg.Inputs)
	out := count.Captions(s, shards, cfg)
	count.WriteOutputs(s, cfg, cfg.Record(runners.Name()), start, out)
}

// LoadVocabulary reads --concepts (local or gs://), or the embedded default
// when path is empty.
func LoadVocabulary(ctx context.Context, path string) (*caption.Vocabulary, error) {
	v, err := caption.LoadVocabulary(ctx, beamfs.ReadAll, path)
	if err != nil {
		return nil, fmt.Errorf("--concepts: %w", err)
	}
	return v, nil
}

// PrintSummary writes the human summary of a run.
func PrintSummary(w io.Writer, dir string, rs *count.RunStats) {
	shards := report.Plural(rs.ShardsRead+rs.ShardsFailed, "shard")
	switch {
	case rs.ShardsFailed == 0:
		shards += " read whole"
	case rs.ShardsRead == 0:
		shards += fmt.Sprintf(", all ended early or unreadable (%s before the damage kept)", report.Plural(rs.SamplesInFailedShards, "sample"))
	default:
		shards += fmt.Sprintf(" (%d read whole, %d ended early or unreadable: %s before the damage kept)",
			rs.ShardsRead, rs.ShardsFailed, report.Plural(rs.SamplesInFailedShards, "sample"))
	}
	fmt.Fprintf(w, "conceptfreq count: %s; %s read, %s with a caption, %s rejected\n",
		shards, report.Plural(rs.SamplesRead, "sample"), report.Thousands(rs.SamplesWithCaption), report.Thousands(rs.SampleRejects))
	if rs.Config.PartialsDir != "" {
		fmt.Fprintf(w, "state %s: %s reused, %d processed\n", rs.Config.PartialsDir, report.Plural(rs.ShardsReused, "shard"), rs.ShardsProcessed)
		if rs.PartialsDamaged > 0 {
			fmt.Fprintf(w, "warning: %s damaged (unreadable, altered or another shard's): their shards were recounted; listed in run_stats.json (partials_damaged_paths)\n",
				report.Plural(rs.PartialsDamaged, "partial"))
		}
		if rs.PartialsNotStored > 0 {
			fmt.Fprintf(w, "warning: %s could not be stored in the state directory (read-only or full?): the next run recounts those shards\n",
				report.Plural(rs.PartialsNotStored, "partial"))
		}
	}
	report.PrintRejects(w, rs.Rejects)
	fmt.Fprintf(w, "vocabulary: %s (%s), %s matched at least once; match=%s pos=%s\n",
		report.Plural(int64(rs.Config.VocabularySize), "concept"), rs.Config.VocabularySource, report.Thousands(int64(rs.ConceptsNonZero)), rs.Config.Match, rs.Config.POS)
	if len(rs.TopConcepts) > 0 {
		if rs.Config.Image != nil {
			fmt.Fprintf(w, "top concepts by text_count:%23s %8s %8s\n", "text", "image", "matched")
		} else {
			fmt.Fprintln(w, "top concepts by text_count:")
		}
		for _, c := range rs.TopConcepts {
			line := fmt.Sprintf("  %-30s %8d", c.Concept, c.TextCount)
			if rs.Config.Image != nil {
				if c.ImageCount != nil && c.MatchedCount != nil {
					line += fmt.Sprintf(" %8d %8d", *c.ImageCount, *c.MatchedCount)
				} else {
					line += fmt.Sprintf(" %17s", "(not a tag)")
				}
			}
			fmt.Fprintln(w, line)
		}
	}
	if im := rs.Config.Image; im != nil {
		fmt.Fprintf(w, "images: %s tagged (%s, threshold %g), %s, %s unknown to the tagger\n",
			report.Thousands(rs.ImagesTagged), im.Tagger, im.Threshold, report.Plural(rs.ImageRejects, "image reject"), report.Plural(int64(len(im.UnknownConcepts)), "concept"))
		fmt.Fprintf(w, "misalignment: %s of %s considered samples (%.1f%%; %.1f%% of all samples)\n",
			report.Thousands(rs.Misaligned), report.Thousands(rs.MisalignmentConsidered), 100*rs.MisalignmentDegreeConsidered, 100*rs.MisalignmentDegree)
	}
	if nc := rs.NearDuplicateControl; nc != nil {
		var sets []string
		for _, t := range nc.ByTestSet {
			sets = append(sets, fmt.Sprintf("%s %s", t.Dataset, report.Thousands(t.NearDuplicates)))
		}
		fmt.Fprintf(w, "similarity control: %s of %s images are near-duplicates of a test image (cosine ≥ %g: %s), left out of the _dissimilar counts; %s listed in %s/\n",
			report.Thousands(nc.NearDuplicates), report.Thousands(nc.ImagesSearched), nc.Threshold, strings.Join(sets, ", "),
			report.Plural(nc.Listed, "sample"), "near_duplicates")
		for _, a := range nc.MostAffected[:min(5, len(nc.MostAffected))] {
			fmt.Fprintf(w, "  %-30s %s_count %d → %d without them (−%.1f%%)\n", a.Concept, a.Kind, a.Count, a.CountDissimilar, 100*a.RemovedFraction)
		}
	}
	fmt.Fprintf(w, "throughput: %.0f samples/s over %.1f s wall (%s runner)\n", rs.SamplesPerSecond, rs.WallSeconds, rs.Config.Runner)
	fmt.Fprintf(w, "outputs in %s: %s\n", dir, strings.Join(rs.OutputFiles, ", "))
}
