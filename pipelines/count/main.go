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
	"io"
	"os"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	beamlog "github.com/apache/beam/sdks/v2/go/pkg/beam/log"

	"github.com/conceptfreq/conceptfreq/internal/cli"
	"github.com/conceptfreq/conceptfreq/io/beamfs"
	"github.com/conceptfreq/conceptfreq/io/paths"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/models/ort"
	"github.com/conceptfreq/conceptfreq/models/preprocess"
	"github.com/conceptfreq/conceptfreq/runners"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
	"github.com/conceptfreq/conceptfreq/transforms/count"
	"github.com/conceptfreq/conceptfreq/transforms/imagetag"
)

var (
	input         = flag.String("input", DefaultInput, "comma-separated shard files, globs or directories (.tar, .tar.gz, .tgz, img2dataset .parquet; local or gs://)")
	concepts      = flag.String("concepts", "", "concept vocabulary: a file (one per line, '#' comments, optional 'concept<TAB>alias1|alias2'), or embedded:study (the default: the study's 3,204 class-name spellings) or embedded:study-retrieval (its coco/flickr caption words)")
	output        = flag.String("output", "out", "output directory (local or gs://)")
	overwrite     = flag.Bool("overwrite", false, "replace outputs in a non-empty --output directory")
	state         = flag.String("state", "", "keep a partial result per processed shard in this directory (local or gs://) and reuse it: a re-run (with --overwrite) over a grown input set processes only new or changed shards; partials are keyed by everything that changes counts")
	captionColumn = flag.String("caption_column", "", "caption column of Parquet inputs (default: first of caption, TEXT, text)")
	captionExt    = flag.String("caption_ext", "txt", "WebDataset member holding the caption (falls back to the .json 'caption' field)")
	match         = flag.String("match", string(caption.AllWords), "match rule: all-words (every concept lemma anywhere in the caption), phrase (contiguous, in order), or study (the study's noun-index rule, to compare with its released counts; see the README)")
	emitSamples   = flag.Bool("emit_samples", false, "also write sample_concepts/*.parquet (shard, key, caption, text_concepts, image_concepts)")

	// Image side.
	tagger        = flag.String("tagger", "", "image tagger: none, multilabel (RAM++-style) or embedding (CLIP-style); default multilabel when --model is given, else none")
	model         = flag.String("model", "", "ONNX image model (local or gs://); user-supplied weights")
	labels        = flag.String("tagger_labels", "", "multilabel: labels file, one concept per line in output-column order (default: the model's conceptfreq.labels metadata)")
	conceptEmb    = flag.String("concept_embeddings", "", "embedding: Parquet of concept (string), embedding (list<float>)")
	taggerOutput  = flag.String("tagger_output", "", "multilabel: probabilities or logits (logits get a sigmoid); default from metadata, else probabilities")
	embScale      = flag.Float64("embedding_scale", 1, "embedding: score = scale × cosine before the activation")
	embAct        = flag.String("embedding_activation", "none", "embedding: none, sigmoid or softmax (over the vocabulary)")
	embTemp       = flag.Float64("embedding_temperature", 1, "embedding: temperature of sigmoid/softmax")
	threshold     = flag.Float64("threshold", 0.7, "a concept is in the image when its score is strictly above this (the study: 0.7)")
	device        = flag.String("device", "cpu", "execution provider: cpu, cuda, tensorrt, or auto (cuda if available, else cpu)")
	batchSize     = flag.Int("batch_size", 32, "images per model call")
	ortLib        = flag.String("ort_lib", "", "ONNX Runtime shared library (default: $CONCEPTFREQ_ORT_LIB, else .cache/onnxruntime/libonnxruntime.so.1)")
	ortThreads    = flag.Int("ort_threads", 0, "ONNX Runtime intra-op threads per worker (0: its default)")
	emitScores    = flag.Bool("emit_scores", false, "also write image_scores/*.parquet: per-sample scores at or above --score_floor, to recount later with --scores")
	scoreFloor    = flag.Float64("score_floor", 0.3, "lowest score kept by --emit_scores")
	scoresDir     = flag.String("scores", "", "recount image and matched counts from a previous run's output directory (its image_scores/ parts) instead of running a model")
	nearDups      = flag.String("near_duplicates", "", "similarity control (embedding tagger): comma-separated test_embeddings.parquet files (pipelines/embed --images, the same image encoder); each tagged image is compared with every test image and the _dissimilar counts leave out the near-duplicates")
	nearThresh    = flag.Float64("near_threshold", imagetag.DefaultNearThreshold, "similarity control: a sample whose image has cosine similarity at or above this to a test image is a near-duplicate")
	allowMismatch = flag.Bool("allow_mismatch", false, "run on (with a warning per difference, recorded in run_stats.json) when --near_duplicates or --concept_embeddings record another image encoder or preprocessing than this run's; without it that is an error at launch")
	nearFloor     = flag.Float64("near_floor", imagetag.DefaultNearFloor, "similarity control: samples at or above this similarity are listed in near_duplicates/ (at most --near_threshold)")

	// imageFlags are the image preprocessing flags every image command
	// shares (preprocess.Flags.Register).
	imageFlags = preprocess.DefaultFlags()

	verbose           = flag.Bool("verbose", false, "show the runner's INFO logs")
	progress          = flag.Bool("progress", stderrIsTerminal(), "show progress on stderr (shards, samples, samples/s, rejects, ETA); default on when stderr is a terminal")
	maxRejectFraction = flag.Float64("max_reject_fraction", 1, "fail (exit 1, after writing the outputs and rejects) when more than this fraction of the samples read have no usable caption")
	pos               = flag.String("pos", string(caption.POSNone), "POS filter: none, or nouns (only noun/proper-noun tokens match; slower)")
)

// command groups the flags for --help.
var command = &cli.Command{
	Name:    "count",
	Summary: "count, for every concept of a vocabulary, the image–caption samples that mention it in the caption, show it in the image, or both",
	Usage: []string{
		"go run ./pipelines/count                                   # the bundled shards → ./out",
		"go run ./pipelines/count --input='shards/*.tar' --output=out/mycrawl [--model=ram_plus.onnx --tagger_labels=tags.txt]",
		"go run ./pipelines/count --runner=dataflow --project=P --region=R --staging_location=gs://B/staging --input='gs://B/laion/*.tar' --output=gs://B/counts",
	},
	Groups: []cli.Group{
		{Title: "Input", Flags: []string{"input", "caption_ext", "caption_column"}},
		{Title: "Vocabulary and rules", Flags: []string{"concepts", "match", "pos"}},
		{Title: "Image tagging", Flags: []string{"tagger", "model", "tagger_labels", "concept_embeddings", "tagger_output", "threshold",
			"embedding_scale", "embedding_activation", "embedding_temperature", "device", "batch_size", "input_size", "resize",
			"mean", "std", "max_pixels", "decoder", "shrink_on_load", "ort_lib", "ort_threads", "scores"}},
		{Title: "Similarity control", Flags: []string{"near_duplicates", "near_threshold", "near_floor", "allow_mismatch"}},
		{Title: "Output", Flags: []string{"output", "overwrite", "state", "emit_samples", "emit_scores", "score_floor", "max_reject_fraction"}},
		{Title: "Runner", Flags: []string{"runner", "verbose", "progress", "help_beam", "version"}},
	},
	Runner:   true,
	Defaults: map[string]string{"runner": runners.Default},
}

// printVersion is --version: conceptfreq's, Go's and the libraries'
// versions, the ONNX Runtime library's and the embedded vocabulary's hash.
func printVersion(w io.Writer) {
	rows := cli.Versions("github.com/apache/beam/sdks/v2", "github.com/apache/arrow-go/v18", "github.com/yalue/onnxruntime_go")
	rows = append(rows, cli.ORTVersion(*ortLib))
	if v, err := caption.DefaultVocabulary(); err == nil {
		rows = append(rows, [2]string{"vocabulary", fmt.Sprintf("%s, %d concepts, sha256 %s", v.Source, len(v.Concepts), v.Hash())})
	}
	cli.PrintVersions(w, rows)
}

func init() {
	imageFlags.Register(flag.CommandLine)
}

func main() {
	command.Parse(flag.CommandLine, os.Args[1:], printVersion)
	if !*verbose {
		beamlog.LogLevel = "warn"
	}
	beam.Init()
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "count:", cli.Message(err))
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	start := time.Now()
	if err := runners.Validate(); err != nil {
		return err
	}
	if err := runners.CheckWorkerBinary(); err != nil {
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
	if runners.Name() != "dataflow" && !runners.DryRun() {
		caption.Preload(rule, posMode) // counted here, in this process: load meanwhile
	}
	patterns := strings.Split(*input, ",")
	if *input == DefaultInput {
		patterns = DefaultInputs()
	}
	// The patterns go into the job and are matched on a worker. A local run
	// lists them here as well, to fail before counting and to size the
	// progress figures; Dataflow checks their syntax only, so a launch over
	// a million shards lists nothing and a dry run touches no cloud service.
	shardsTotal := int64(0)
	if runners.Name() == "dataflow" {
		for _, p := range patterns {
			if _, err := paths.Braces(strings.TrimSpace(p)); err != nil {
				return fmt.Errorf("--input: %w", err)
			}
		}
	} else {
		inputs, err := beamfs.Expand(ctx, patterns)
		if err != nil {
			err = fmt.Errorf("--input: %w", err)
			if *input == DefaultInput {
				err = fmt.Errorf("%w (the default input is the bundled testdata/shards of the source tree, which is not here: pass --input)", err)
			}
			return err
		}
		shardsTotal = int64(len(inputs))
	}
	dryRun := runners.DryRun()
	release := func() {}
	if !dryRun {
		if release, err = cli.ClaimOutput(ctx, *output, *overwrite, tables.RunStatsFile); err != nil {
			return err
		}
		if *overwrite {
			if err := count.ClearRowOutputs(ctx, *output); err != nil {
				release()
				return err
			}
		}
	}
	defer release()
	vocab, err := LoadVocabulary(ctx, *concepts)
	if err != nil {
		return err
	}
	for _, d := range vocab.Dropped {
		fmt.Fprintf(os.Stderr, "count: warning: --concepts %s: %s\n", vocab.Source, d)
	}
	req := count.Request{Inputs: patterns, Output: *output, Vocabulary: vocab, Rule: rule, POS: posMode,
		CaptionExt: *captionExt, CaptionColumn: *captionColumn, EmitSamples: *emitSamples,
		MaxRejectFraction: maxRejectFraction, Version: cli.Version(),
		Image: imagetag.Request{Tagger: *tagger, Model: *model, Labels: *labels, ConceptEmbeddings: *conceptEmb,
			Output: *taggerOutput, EmbedScale: *embScale, EmbedActivation: *embAct, EmbedTemperature: *embTemp,
			Threshold: *threshold, Device: *device, BatchSize: *batchSize, Image: imageFlags,
			OrtLib: *ortLib, IntraOpThreads: *ortThreads,
			EmitScores: *emitScores, ScoreFloor: *scoreFloor, ScoresDir: *scoresDir,
			NearDuplicates: *nearDups, NearThreshold: *nearThresh, NearFloor: *nearFloor, AllowMismatch: *allowMismatch}}
	if req.Image.Enabled() && req.Image.ScoresDir == "" && !ort.Available && runners.Name() != "dataflow" {
		// (A Dataflow launcher may be cgo-free when --worker_binary is a cgo build.)
		return ort.ErrNoONNX
	}
	read := beamfs.ReadAll
	if dryRun {
		// A dry run reads local files only: a gs:// model, labels file or
		// embeddings table is not read, and the job gets the defaults for
		// what it would have said.
		read = func(ctx context.Context, path string) ([]byte, error) {
			if !paths.IsLocal(path) {
				return nil, fmt.Errorf("%s: %w", path, imagetag.ErrNotRead)
			}
			return beamfs.ReadAll(ctx, path)
		}
	}
	cfg, err := req.Resolve(ctx, read)
	if err != nil {
		return err
	}
	for _, w := range cfg.Image.Warnings {
		fmt.Fprintln(os.Stderr, "count: WARNING:", w)
	}
	if cfg.Image.Enabled() && cfg.Image.ScoresDir == "" {
		if err := runners.CheckGPU(cfg.Image.Device); err != nil {
			return err
		}
	}
	if *state != "" && !dryRun {
		if cfg, err = cfg.WithState(ctx, *state); err != nil {
			return err
		}
	}
	prog := count.NewProgress()
	defer prog.Release()
	if !dryRun && runners.Name() != "dataflow" {
		cfg.ProgressID = prog.ID // found by this process's workers (prism, direct)
	}
	p, s := beam.NewPipelineWithRoot()
	Build(s, cfg, start)
	if dryRun {
		job := runners.CaptureDryRunJob(*verbose)
		if _, err := runners.Run(ctx, p); err != nil {
			return fmt.Errorf("dry run: %s", cli.FirstLine(err))
		}
		if err := job.Write(os.Stdout, p); err != nil {
			return fmt.Errorf("dry run: %w", err)
		}
		fmt.Fprintf(os.Stderr, "count: dry run: the Dataflow job above was validated and printed; nothing was submitted, read or written\n")
		return nil
	}
	stopProgress := func() {}
	if *progress && shardsTotal > 0 {
		stop, done := make(chan struct{}), make(chan struct{})
		ticker := time.NewTicker(300 * time.Millisecond)
		go func() {
			prog.Report(os.Stderr, shardsTotal, ticker.C, stop)
			close(done)
		}()
		stopProgress = func() { close(stop); <-done; ticker.Stop() }
	}
	_, err = runners.Execute(ctx, p, *verbose)
	stopProgress()
	if err != nil {
		return fmt.Errorf("job failed: %w", err)
	}
	rs, err := count.ReadRunStats(ctx, *output, beamfs.ReadAll)
	if err != nil {
		return err
	}
	PrintSummary(os.Stdout, *output, rs)
	if rs.Status != count.StatusComplete {
		return fmt.Errorf("%s (run_stats.json: status %s)", rs.StatusReason, rs.Status)
	}
	return nil
}

// stderrIsTerminal reports whether stderr is a terminal.
func stderrIsTerminal() bool {
	fi, err := os.Stderr.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Verdict fails a run that counted nothing it should have (count.Verdict).
func Verdict(rs *count.RunStats, maxReject float64) error {
	return count.Verdict(rs, maxReject)
}
