// Command eval measures a CLIP-style model's zero-shot classification
// accuracy on a labelled image set in WebDataset shards (an image member
// plus a cls index, or a txt/json class name), per class and prompt set,
// and writes the performance table pipelines/fit --performance reads.
//
//	go run ./pipelines/eval --input='imagenet-val/*.tar' --classes=imagenet_classes.txt \
//	    --image_model=clip_image.onnx --text_model=clip_text.onnx \
//	    --bpe=testdata/clip/bpe_simple_vocab_16e6.txt.gz \
//	    --model=ViT-B-32 --pretraining=laion400m --dataset=imagenet --output=out/eval
//
// Class embeddings are computed at launch (plain Go: classes × templates
// texts); the images run on Beam like the count job (prism locally,
// Dataflow at scale, the same GPU flags).
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	beamlog "github.com/apache/beam/sdks/v2/go/pkg/beam/log"

	"github.com/conceptfreq/conceptfreq/internal/cli"
	"github.com/conceptfreq/conceptfreq/internal/report"
	"github.com/conceptfreq/conceptfreq/io/beamfs"
	"github.com/conceptfreq/conceptfreq/io/paths"
	"github.com/conceptfreq/conceptfreq/io/shard"
	"github.com/conceptfreq/conceptfreq/models/clip"
	"github.com/conceptfreq/conceptfreq/models/ort"
	"github.com/conceptfreq/conceptfreq/models/preprocess"
	"github.com/conceptfreq/conceptfreq/models/tagging"
	"github.com/conceptfreq/conceptfreq/runners"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
	"github.com/conceptfreq/conceptfreq/transforms/retrieval"
	"github.com/conceptfreq/conceptfreq/transforms/zeroshot"
)

var (
	input       = flag.String("input", "", "comma-separated labelled WebDataset shards, globs or directories (local or gs://)")
	classesFile = flag.String("classes", "", "class names, one per line, in class-index order (a cls member is an index into it)")
	imageModel  = flag.String("image_model", "", "ONNX image encoder: images [N,3,H,W] → embeddings [N,D] (user-supplied weights)")
	imageInput  = flag.String("image_input", "", "the image encoder's input name (default: its only input)")
	imageOutput = flag.String("image_output", "", "the image encoder's output name (default: its first output)")
	textModel   = flag.String("text_model", "", "ONNX text encoder: token ids [N,77] (int64) → embeddings [N,D]")
	textInput   = flag.String("text_input", "", "the text encoder's input name (default: its only input)")
	textOutput  = flag.String("text_output", "", "the text encoder's output name (default: its first output)")
	bpe         = flag.String("bpe", "", "CLIP BPE merges file (bpe_simple_vocab_16e6.txt.gz)")
	prompts     = flag.String("prompts", strings.Join(clip.PromptSets, ","), "comma-separated prompt sets: class, simple, ensemble")
	modelName   = flag.String("model", "", "model name written in the performance table (e.g. ViT-B-32)")
	pretraining = flag.String("pretraining", "", "pretraining-dataset name written in the performance table (pipelines/fit fits --counts against the rows of the name --counts_pretraining gives)")
	dataset     = flag.String("dataset", "", "downstream dataset name written in the performance table (e.g. imagenet)")
	output      = flag.String("output", "out/eval", "output directory (local or gs://)")
	overwrite   = flag.Bool("overwrite", false, "replace outputs in a non-empty --output directory")
	device      = flag.String("device", "cpu", "execution provider: cpu, cuda, tensorrt, or auto")
	ortLib      = flag.String("ort_lib", "", "ONNX Runtime shared library (default: $CONCEPTFREQ_ORT_LIB, else .cache/onnxruntime/libonnxruntime.so.1)")
	ortThreads  = flag.Int("ort_threads", 0, "ONNX Runtime intra-op threads per worker (0: its default)")
	batchSize   = flag.Int("batch_size", 32, "images per model call")
	verbose     = flag.Bool("verbose", false, "show the runner's INFO logs")
	task        = flag.String("task", "classification", "classification (labelled images, --classes), retrieval (images with several captions each: recall@1/5/10 both ways per concept), or concepts (write a retrieval set's concepts as a vocabulary file, concepts.txt, for the count job's --concepts; no model needed)")
	minImages   = flag.Int("min_images", 10, "retrieval: a concept (a noun of the captions) is kept when at least this many images hold it")
)

var command = &cli.Command{
	Name:    "eval",
	Summary: "zero-shot classification accuracy (per class and prompt set) or retrieval recall (per concept of the captions) of a CLIP-style ONNX model on WebDataset shards",
	Usage: []string{
		"go run ./pipelines/eval --input='val/*.tar' --classes=classes.txt --image_model=clip_image.onnx --text_model=clip_text.onnx --bpe=FILE --model=ViT-B-32 --pretraining=laion400m --dataset=imagenet",
		"go run ./pipelines/eval --task=retrieval --input='coco5k/*.tar' --image_model=clip_image.onnx --text_model=clip_text.onnx --bpe=FILE --model=ViT-B-32 --pretraining=laion400m --dataset=coco",
	},
	Groups: []cli.Group{
		{Title: "Input", Flags: []string{"task", "input", "classes", "min_images", "max_pixels", "decoder", "shrink_on_load"}},
		{Title: "Model", Flags: []string{"image_model", "image_input", "image_output", "text_model", "text_input", "text_output", "bpe", "prompts",
			"device", "batch_size", "input_size", "resize", "mean", "std", "ort_lib", "ort_threads"}},
		{Title: "Output", Flags: []string{"model", "pretraining", "dataset", "output", "overwrite"}},
		{Title: "Runner", Flags: []string{"runner", "verbose", "help_beam", "version"}},
	},
	Runner:   true,
	Defaults: map[string]string{"runner": runners.Default},
}

func main() {
	command.Parse(flag.CommandLine, os.Args[1:], func(w io.Writer) {
		cli.PrintVersions(w, append(cli.Versions("github.com/apache/beam/sdks/v2", "github.com/apache/arrow-go/v18", "github.com/yalue/onnxruntime_go"), cli.ORTVersion(*ortLib)))
	})
	if !*verbose {
		beamlog.LogLevel = "warn"
	}
	beam.Init()
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "eval:", cli.Message(err))
		os.Exit(1)
	}
}

// required names the flags that must be set.
func required() error {
	var missing []string
	classes := *classesFile
	if *task == "retrieval" {
		classes = "-" // not needed
	}
	if *task == "concepts" {
		if strings.TrimSpace(*input) == "" {
			return fmt.Errorf("missing --input")
		}
		return nil
	}
	for _, f := range []struct{ name, v string }{{"input", *input}, {"classes", classes}, {"image_model", *imageModel},
		{"text_model", *textModel}, {"bpe", *bpe}, {"model", *modelName}, {"pretraining", *pretraining}, {"dataset", *dataset}} {
		if strings.TrimSpace(f.v) == "" {
			missing = append(missing, "--"+f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	return nil
}

func run(ctx context.Context) error {
	start := time.Now()
	if err := runners.Validate(); err != nil {
		return err
	}
	if err := required(); err != nil {
		return err
	}
	if *batchSize < 1 {
		return fmt.Errorf("--batch_size %d: want at least 1", *batchSize)
	}
	if *task == "concepts" {
		return runConcepts(ctx)
	}
	if !ort.Available && runners.Name() != "dataflow" {
		return ort.ErrNoONNX
	}
	switch *task {
	case "classification":
	case "retrieval":
		return runRetrieval(ctx, start)
	default:
		return fmt.Errorf("--task=%q: want classification or retrieval", *task)
	}
	var sets []string
	for _, p := range strings.Split(*prompts, ",") {
		if p = strings.TrimSpace(p); p != "" {
			if _, err := clip.Templates(p); err != nil {
				return fmt.Errorf("--prompts: %w", err)
			}
			sets = append(sets, p)
		}
	}
	if len(sets) == 0 {
		return errors.New("--prompts names no prompt set")
	}
	patterns := strings.Split(*input, ",")
	inputs, err := beamfs.Expand(ctx, patterns)
	if err != nil {
		return fmt.Errorf("--input: %w", err)
	}
	release, err := cli.ClaimOutput(ctx, *output, *overwrite, zeroshot.StatsFile)
	if err != nil {
		return err
	}
	defer release()
	classes, err := readClasses(ctx, *classesFile)
	if err != nil {
		return err
	}
	embs, truncated, err := classEmbeddings(ctx, classes, sets)
	if err != nil {
		return err
	}
	decoding, err := imageFlags.Decoding()
	if err != nil {
		return err
	}
	info := zeroshot.Run{Model: *modelName, Pretraining: *pretraining, Dataset: *dataset, ImageModel: *imageModel, TextModel: *textModel,
		Inputs: patterns, Files: len(inputs), Classes: len(classes), Prompts: sets, Runner: runners.Name()}
	opts, err := imagePreprocess(ctx, &info, decoding)
	if err != nil {
		return err
	}
	cfg := zeroshot.Config{Classes: classes, Prompts: sets, Embeddings: embs, Model: *imageModel, Input: *imageInput, Output: *imageOutput,
		Device: *device, OrtLib: *ortLib, Threads: *ortThreads, BatchSize: *batchSize, MaxPixels: imageFlags.MaxPixels, Decoding: decoding, Preprocess: opts}
	p, s := beam.NewPipelineWithRoot()
	Build(s, cfg, info, inputs, *output, start)
	if _, err := runners.Execute(ctx, p, *verbose); err != nil {
		return fmt.Errorf("job failed: %w", err)
	}
	es, err := zeroshot.ReadStats(ctx, *output)
	if err != nil {
		return err
	}
	PrintSummary(os.Stdout, *output, es, truncated)
	return nil
}

// imageFlags are the image preprocessing flags every image command shares
// (preprocess.Flags.Register), so that eval feeds the encoder what embed
// --images and count --tagger=embedding feed it.
var imageFlags = preprocess.DefaultFlags()

func init() {
	imageFlags.Register(flag.CommandLine)
}

// imagePreprocess resolves the image model's preprocessing as every image
// command does (tagging.ImageOptions), checks the device and fills in
// what made the run: the version, the models' sha256 and the spec.
func imagePreprocess(ctx context.Context, run *zeroshot.Run, dec preprocess.Decoding) (preprocess.Options, error) {
	model, err := beamfs.ReadAll(ctx, *imageModel)
	if err != nil {
		return preprocess.Options{}, fmt.Errorf("--image_model: %w", err)
	}
	opts, err := tagging.ImageOptions(model, preprocess.KindEncoder, imageFlags)
	if err != nil {
		return preprocess.Options{}, fmt.Errorf("--image_model %s: %w", *imageModel, err)
	}
	run.Version, run.ImageModelSHA256, run.ImageSpec = cli.Version(), sha256Hex(model), preprocess.NewSpec(opts, dec).String()
	for _, f := range []struct {
		path string
		dst  *string
	}{{*textModel, &run.TextModelSHA256}, {*bpe, &run.BPESHA256}} {
		if f.path == "" {
			continue
		}
		b, err := beamfs.ReadAll(ctx, f.path)
		if err != nil {
			return opts, err
		}
		*f.dst = sha256Hex(b)
	}
	return opts, runners.CheckGPU(*device)
}

// sha256Hex is the hex sha256 of b, as outputs record their inputs.
func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// runRetrieval evaluates retrieval: every sample's image and captions
// embedded on the workers, then ranked together on one.
func runRetrieval(ctx context.Context, start time.Time) error {
	if *minImages < 1 {
		return fmt.Errorf("--min_images=%d: want at least 1", *minImages)
	}
	if strings.TrimSpace(*bpe) == "" {
		return fmt.Errorf("missing --bpe")
	}
	patterns := strings.Split(*input, ",")
	inputs, err := beamfs.Expand(ctx, patterns)
	if err != nil {
		return fmt.Errorf("--input: %w", err)
	}
	release, err := cli.ClaimOutput(ctx, *output, *overwrite, zeroshot.StatsFile)
	if err != nil {
		return err
	}
	defer release()
	decoding, err := imageFlags.Decoding()
	if err != nil {
		return err
	}
	info := zeroshot.Run{Model: *modelName, Pretraining: *pretraining, Dataset: *dataset, ImageModel: *imageModel, TextModel: *textModel,
		Inputs: patterns, Files: len(inputs), Runner: runners.Name()}
	opts, err := imagePreprocess(ctx, &info, decoding)
	if err != nil {
		return err
	}
	cfg := zeroshot.RetrievalConfig{ImageModel: *imageModel, ImageInput: *imageInput, ImageOutput: *imageOutput,
		TextModel: *textModel, TextInput: *textInput, TextOutput: *textOutput, BPE: *bpe, Device: *device, OrtLib: *ortLib,
		Threads: *ortThreads, BatchSize: *batchSize, MaxPixels: imageFlags.MaxPixels, Decoding: decoding, Preprocess: opts, MinImages: *minImages}
	p, s := beam.NewPipelineWithRoot()
	items, rejects, stats := zeroshot.EvaluateRetrieval(s, beam.CreateList(s, inputs), cfg)
	zeroshot.WriteRetrieval(s, *output, cfg, info, start, items, rejects, stats)
	if _, err := runners.Execute(ctx, p, *verbose); err != nil {
		return fmt.Errorf("job failed: %w", err)
	}
	rs, err := zeroshot.ReadRetrievalStats(ctx, *output)
	if err != nil {
		return err
	}
	PrintRetrievalSummary(os.Stdout, *output, rs)
	return nil
}

// ConceptsFile is what --task=concepts writes into --output.
const ConceptsFile = "concepts.txt"

// runConcepts writes a retrieval set's concepts (its captions' nouns held
// by at least --min_images images) as a vocabulary file: read here, shard
// by shard in the order given, a few thousand samples.
func runConcepts(ctx context.Context) error {
	if *minImages < 1 {
		return fmt.Errorf("--min_images=%d: want at least 1", *minImages)
	}
	patterns := strings.Split(*input, ",")
	inputs, err := beamfs.Expand(ctx, patterns)
	if err != nil {
		return fmt.Errorf("--input: %w", err)
	}
	release, err := cli.ClaimOutput(ctx, *output, *overwrite, ConceptsFile)
	if err != nil {
		return err
	}
	defer release()
	var captions [][]string
	rejects := map[string]int64{}
	for _, path := range inputs {
		err := shard.ForEach(ctx, beamfs.Open, path, shard.Options{TextOnly: true}, func(s *shard.Sample) error {
			caps, why := zeroshot.Captions(s.Members)
			if why != "" {
				rejects[zeroshot.RejectNoCaptions]++
				return nil
			}
			captions = append(captions, caps)
			return nil
		})
		var f *shard.Failure
		if errors.As(err, &f) {
			rejects[f.Reason]++
		} else if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	lem, err := caption.English()
	if err != nil {
		return err
	}
	nouns, err := caption.NewNouns(lem)
	if err != nil {
		return err
	}
	_, _, kept := retrieval.Concepts(captions, nouns.Keys, *minImages)
	var b strings.Builder
	fmt.Fprintf(&b, "# concepts of %s: the nouns of its captions (the study's rule) held by at least %d images; %d images\n",
		strings.Join(patterns, ","), *minImages, len(captions))
	for _, c := range kept {
		b.WriteString(c + "\n")
	}
	if err := beamfs.WriteBytes(ctx, paths.Join(*output, ConceptsFile), []byte(b.String())); err != nil {
		return err
	}
	fmt.Printf("conceptfreq eval (concepts): %s with captions, %s held by at least %d images\n",
		report.Plural(int64(len(captions)), "image"), report.Plural(int64(len(kept)), "concept"), *minImages)
	report.PrintRejects(os.Stdout, rejects)
	fmt.Printf("outputs in %s: %s (for the count job's --concepts)\n", *output, ConceptsFile)
	return nil
}

// PrintRetrievalSummary writes the human summary of a retrieval evaluation.
func PrintRetrievalSummary(w io.Writer, dir string, rs *zeroshot.RetrievalStats) {
	fmt.Fprintf(w, "conceptfreq eval (retrieval): %s (%s) on %s: %s read, %s evaluated (%s), %s kept (held by at least %d images)\n",
		rs.Run.Model, rs.Run.Pretraining, rs.Run.Dataset, report.Plural(rs.SamplesRead, "sample"), report.Plural(int64(rs.Images), "image"),
		report.Plural(int64(rs.Captions), "caption"), report.Plural(int64(rs.Concepts), "concept"), rs.MinImages)
	for _, dir := range []string{"i2t", "t2i"} {
		fmt.Fprintf(w, "  %s recall@1 %6.2f%%  @5 %6.2f%%  @10 %6.2f%%\n", dir, 100*rs.Recall[dir+"_recall@1"], 100*rs.Recall[dir+"_recall@5"], 100*rs.Recall[dir+"_recall@10"])
	}
	report.PrintRejects(w, rs.Rejects)
	fmt.Fprintf(w, "outputs in %s: %s, %s, %s\n", dir, zeroshot.PerformanceFile, zeroshot.RejectsFile, zeroshot.StatsFile)
}

// Build adds the evaluation to s: shards → zeroshot.Evaluate →
// performance.parquet, rejects.parquet and eval_stats.json in dir.
func Build(s beam.Scope, cfg zeroshot.Config, info zeroshot.Run, inputs []string, dir string, start time.Time) {
	out := zeroshot.Evaluate(s, beam.CreateList(s, inputs), cfg)
	zeroshot.WriteOutputs(s, dir, cfg, info, start, out)
}

// readClasses reads the class-name list: one per line, blank lines and
// "#" comments skipped, no duplicates.
func readClasses(ctx context.Context, path string) ([]string, error) {
	b, err := beamfs.ReadAll(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("--classes: %w", err)
	}
	var out []string
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	line := 0
	for sc.Scan() {
		line++
		name := strings.TrimSpace(sc.Text())
		if name == "" || strings.HasPrefix(name, "#") {
			continue
		}
		key := strings.ToLower(name)
		if prev, dup := seen[key]; dup {
			return nil, fmt.Errorf("--classes %s: line %d repeats line %d (%q)", path, line, prev, name)
		}
		seen[key] = line
		out = append(out, name)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--classes %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--classes %s: no class names", path)
	}
	return out, nil
}

// classEmbeddings encodes every class under every prompt set with the text
// encoder.
func classEmbeddings(ctx context.Context, classes, sets []string) ([][][]float32, int, error) {
	b, err := beamfs.ReadAll(ctx, *bpe)
	if err != nil {
		return nil, 0, fmt.Errorf("--bpe: %w", err)
	}
	tok, err := clip.LoadTokenizer(bytes.NewReader(b))
	if err != nil {
		return nil, 0, fmt.Errorf("--bpe %s: %w", *bpe, err)
	}
	model, err := beamfs.ReadAll(ctx, *textModel)
	if err != nil {
		return nil, 0, fmt.Errorf("--text_model: %w", err)
	}
	s, err := ort.OpenData(*textModel, model, ort.Options{LibPath: ort.ResolveLib(*ortLib), Device: *device, Input: *textInput, Output: *textOutput})
	if err != nil {
		return nil, 0, err
	}
	defer s.Close()
	e := &clip.Embedder{Tokenizer: tok, Encoder: s}
	var out [][][]float32
	for _, set := range sets {
		tpls, _ := clip.Templates(set)
		embs, err := e.Embed(classes, tpls)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, embs)
	}
	return out, e.Truncated, nil
}

// PrintSummary writes the human summary of an evaluation.
func PrintSummary(w io.Writer, dir string, es *zeroshot.EvalStats, truncated int) {
	fmt.Fprintf(w, "conceptfreq eval: %s (%s) on %s: %s read, %s evaluated, %s rejected; %s\n",
		es.Run.Model, es.Run.Pretraining, es.Run.Dataset, report.Plural(es.SamplesRead, "sample"), report.Thousands(es.Evaluated),
		report.Thousands(es.SamplesRead-es.Evaluated), report.Plural(int64(es.Run.Classes), "class"))
	for _, a := range es.Accuracy {
		fmt.Fprintf(w, "  %-9s top-1 %6.2f%%  top-5 %6.2f%%  mean per-class top-1 %6.2f%%\n", a.Prompt, a.Top1, a.TopK, a.MeanPerClass)
	}
	report.PrintRejects(w, es.Rejects)
	if n := len(es.ClassesNoData); n > 0 {
		fmt.Fprintf(w, "%s had no images (no performance row): %s\n", report.Plural(int64(n), "class"), strings.Join(es.ClassesNoData[:min(n, 10)], ", "))
	}
	if truncated > 0 {
		fmt.Fprintf(w, "%s longer than the context were truncated\n", report.Plural(int64(truncated), "prompt text"))
	}
	fmt.Fprintf(w, "outputs in %s: %s, %s, %s\n", dir, zeroshot.PerformanceFile, zeroshot.RejectsFile, zeroshot.StatsFile)
}
