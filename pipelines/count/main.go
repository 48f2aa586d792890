// Command count is conceptfreq's main job: it counts, for every concept of a
// vocabulary, how many image–caption samples mention it in the caption.
//
//	go run ./pipelines/count                      # bundled shards → ./out/
//	go run ./pipelines/count --input='gs://bucket/laion/*.tar' --output=gs://bucket/counts \
//	    --runner=dataflow --project=P --region=R --staging_location=gs://bucket/staging
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	beamlog "github.com/apache/beam/sdks/v2/go/pkg/beam/log"

	"github.com/conceptfreq/conceptfreq/runners"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
)

var (
	input         = flag.String("input", DefaultInput, "comma-separated shard files, globs or directories (.tar, .tar.gz, .tgz, img2dataset .parquet; local or gs://)")
	concepts      = flag.String("concepts", "", "concept vocabulary file: one per line, '#' comments, optional 'concept<TAB>alias1|alias2' (default: embedded study vocabulary)")
	output        = flag.String("output", "out", "output directory (local or gs://)")
	overwrite     = flag.Bool("overwrite", false, "replace outputs in a non-empty --output directory")
	captionColumn = flag.String("caption_column", "", "caption column of Parquet inputs (default: first of caption, TEXT, text)")
	captionExt    = flag.String("caption_ext", "txt", "WebDataset member holding the caption (falls back to the .json 'caption' field)")
	match         = flag.String("match", string(caption.AllWords), "match rule: all-words (every concept lemma anywhere in the caption) or phrase (contiguous, in order)")
	verbose       = flag.Bool("verbose", false, "show the runner's INFO logs")
	pos           = flag.String("pos", string(caption.POSNone), "POS filter: none, or nouns (only noun/proper-noun tokens match; slower)")
)

func main() {
	flag.Parse()
	if !*verbose {
		beamlog.LogLevel = "warn"
	}
	beam.Init()
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "count:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	start := time.Now()
	if err := runners.Validate(); err != nil {
		return err
	}
	rule, err := caption.ParseRule(*match)
	if err != nil {
		return fmt.Errorf("--match: %w", err)
	}
	posMode, err := caption.ParsePOS(*pos)
	if err != nil {
		return fmt.Errorf("--pos: %w", err)
	}
	patterns := strings.Split(*input, ",")
	files, err := ExpandInputs(ctx, patterns)
	if err != nil {
		if *input == DefaultInput {
			err = fmt.Errorf("%w (the default input is the bundled testdata/shards: run from the repository root, or pass --input)", err)
		}
		return err
	}
	if err := CheckOutput(ctx, *output, *overwrite); err != nil {
		return err
	}
	vocab, err := LoadVocabulary(ctx, *concepts)
	if err != nil {
		return err
	}
	cfg := Config{Inputs: patterns, Files: files, Vocabulary: vocab, Output: *output, Rule: rule, POS: posMode,
		CaptionExt: *captionExt, CaptionColumn: *captionColumn, Start: start}
	p, s := beam.NewPipelineWithRoot()
	Build(s, cfg)
	if _, err := runners.Run(ctx, p); err != nil {
		return fmt.Errorf("pipeline failed: %w", err)
	}
	rs, err := ReadRunStats(ctx, *output)
	if err != nil {
		return err
	}
	PrintSummary(os.Stdout, *output, rs)
	return nil
}
