// Command embed computes concept text embeddings (or, with --images, a
// test set's image embeddings for similarity control) with a CLIP-style ONNX
// text encoder: every concept name of a vocabulary, filled into the
// templates of a prompt set (class, simple or the 80-template ensemble),
// tokenised with CLIP's BPE, encoded, normalised and averaged. It writes
// concept_embeddings.parquet, the file the count job's embedding tagger
// (--tagger=embedding --concept_embeddings=...) and pipelines/eval read.
//
//	go run ./pipelines/embed --bpe=testdata/clip/bpe_simple_vocab_16e6.txt.gz \
//	    --text_model=clip_text.onnx --prompts=ensemble --output=out/concept_embeddings.parquet
//	go run ./pipelines/embed --bpe=FILE --print_tokens --texts=lines.txt   # token ids, one line per line
//
// The vocabulary is thousands of names, so this is plain Go, not Beam.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/conceptfreq/conceptfreq/internal/cli"
	"github.com/conceptfreq/conceptfreq/internal/report"
	"github.com/conceptfreq/conceptfreq/io/beamfs"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/models/clip"
	"github.com/conceptfreq/conceptfreq/models/ort"
	_ "github.com/conceptfreq/conceptfreq/runners" // registers Beam's filesystems (local, gs://, memfs://)
	"github.com/conceptfreq/conceptfreq/transforms/caption"
)

var (
	bpe         = flag.String("bpe", "", "CLIP BPE merges file (bpe_simple_vocab_16e6.txt.gz, as open_clip ships it; local or gs://)")
	textModel   = flag.String("text_model", "", "ONNX text encoder: int64 token ids [N, context] → float embeddings [N, D] (user-supplied weights)")
	textInput   = flag.String("text_input", "", "the text encoder's input name (default: its only input)")
	textOutput  = flag.String("text_output", "", "the text encoder's output name (default: its first output)")
	concepts    = flag.String("concepts", "", "vocabulary whose concept names are embedded (default: the embedded study vocabulary)")
	prompts     = flag.String("prompts", clip.PromptSimple, "prompt set: class (the name), simple (\"a photo of a {}.\") or ensemble (the CLIP paper's 80 ImageNet templates, averaged)")
	output      = flag.String("output", "out/concept_embeddings.parquet", "output Parquet file (local or gs://)")
	overwrite   = flag.Bool("overwrite", false, "replace an existing --output file")
	contextLen  = flag.Int("context_length", clip.ContextLength, "tokens per text (longer texts are truncated, ending in <|endoftext|>)")
	batchSize   = flag.Int("batch_size", 256, "texts (with --images: images) per model call")
	device      = flag.String("device", "cpu", "execution provider: cpu, cuda, tensorrt, or auto")
	ortLib      = flag.String("ort_lib", "", "ONNX Runtime shared library (default: $CONCEPTFREQ_ORT_LIB, else .cache/onnxruntime/libonnxruntime.so.1)")
	printTokens = flag.Bool("print_tokens", false, "print the token ids of every line of --texts (start and end tokens included, no padding or truncation) and exit")
	texts       = flag.String("texts", "", "with --print_tokens: a text file, one text per line (empty lines included); - for standard input")
)

var command = &cli.Command{
	Name:    "embed",
	Summary: "embed concept names with a CLIP-style ONNX text encoder (for --tagger=embedding), or print CLIP token ids",
	Usage: []string{
		"go run ./pipelines/embed --bpe=testdata/clip/bpe_simple_vocab_16e6.txt.gz --text_model=clip_text.onnx --prompts=ensemble --output=out/concept_embeddings.parquet",
		"go run ./pipelines/embed --bpe=FILE --print_tokens --texts=lines.txt",
		"go run ./pipelines/embed --images='imagenet-val/*.tar' --dataset=imagenet --image_model=clip_image.onnx --output=out/test_embeddings.parquet",
	},
	Groups: []cli.Group{
		{Title: "Tokenizer", Flags: []string{"bpe", "context_length", "print_tokens", "texts"}},
		{Title: "Model", Flags: []string{"text_model", "text_input", "text_output", "device", "ort_lib", "batch_size"}},
		{Title: "Concepts and prompts", Flags: []string{"concepts", "prompts"}},
		{Title: "Test images (similarity control)", Flags: []string{"images", "dataset", "label_ext", "image_model", "image_input", "image_output",
			"input_size", "resize", "mean", "std", "decoder", "shrink_on_load", "max_pixels"}},
		{Title: "Output", Flags: []string{"output", "overwrite", "version"}},
	},
}

func main() {
	command.Parse(flag.CommandLine, os.Args[1:], func(w io.Writer) {
		cli.PrintVersions(w, append(cli.Versions("github.com/yalue/onnxruntime_go"), cli.ORTVersion(*ortLib)))
	})
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "embed:", cli.Message(err))
		os.Exit(1)
	}
}

func run(ctx context.Context, stdout io.Writer) error {
	if *images != "" {
		return runImages(ctx, stdout, time.Now())
	}
	if *bpe == "" {
		return fmt.Errorf("--bpe is required: the CLIP merges file (e.g. testdata/clip/bpe_simple_vocab_16e6.txt.gz)")
	}
	b, err := beamfs.ReadAll(ctx, *bpe)
	if err != nil {
		return fmt.Errorf("--bpe: %w", err)
	}
	tok, err := clip.LoadTokenizer(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("--bpe %s: %w", *bpe, err)
	}
	if *printTokens {
		return PrintTokens(ctx, tok, *texts, stdout)
	}
	start := time.Now()
	templates, err := clip.Templates(*prompts)
	if err != nil {
		return fmt.Errorf("--prompts: %w", err)
	}
	if *textModel == "" {
		return fmt.Errorf("--text_model is required: a CLIP-style ONNX text encoder (see the README for an open_clip export)")
	}
	if *contextLen < 2 || *batchSize < 1 {
		return fmt.Errorf("--context_length %d / --batch_size %d: want at least 2 / 1", *contextLen, *batchSize)
	}
	if err := checkOutputFile(ctx, *output, *overwrite); err != nil {
		return err
	}
	v, err := caption.LoadVocabulary(ctx, beamfs.ReadAll, *concepts)
	if err != nil {
		return fmt.Errorf("--concepts: %w", err)
	}
	model, err := beamfs.ReadAll(ctx, *textModel)
	if err != nil {
		return fmt.Errorf("--text_model: %w", err)
	}
	s, err := ort.OpenData(*textModel, model, ort.Options{LibPath: ort.ResolveLib(*ortLib), Device: *device, Input: *textInput, Output: *textOutput})
	if err != nil {
		return err
	}
	defer s.Close()
	e := &clip.Embedder{Tokenizer: tok, Encoder: s, Context: *contextLen, BatchSize: *batchSize}
	names := v.Names()
	embs, err := e.Embed(names, templates)
	if err != nil {
		return err
	}
	prov := tables.Provenance{tables.MetaVersion: cli.Version(), tables.MetaTextModelSHA256: sha256Hex(model),
		tables.MetaPrompts: *prompts, tables.MetaBPESHA256: sha256Hex(b)}
	if *imageModel != "" {
		im, err := beamfs.ReadAll(ctx, *imageModel)
		if err != nil {
			return fmt.Errorf("--image_model: %w", err)
		}
		prov[tables.MetaPairedImageModelSHA256] = sha256Hex(im)
	}
	if err := beamfs.Write(ctx, *output, func(w io.Writer) error {
		return tables.WriteConceptEmbeddings(w, names, embs, prov, nil)
	}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "conceptfreq embed: %s (%s) × %s → %d-dimensional embeddings in %s (%.1f s, %s truncated to %d tokens)\n",
		report.Plural(int64(len(names)), "concept"), v.Source, report.Plural(int64(len(templates)), *prompts+" prompt"), len(embs[0]), *output,
		time.Since(start).Seconds(), report.Plural(int64(e.Truncated), "text"), *contextLen)
	return nil
}

// checkOutputFile refuses to replace an existing file unless overwrite.
func checkOutputFile(ctx context.Context, path string, overwrite bool) error {
	if overwrite {
		return nil
	}
	if _, err := beamfs.ReadAll(ctx, path); err == nil {
		return fmt.Errorf("--output %s exists; pass --overwrite to replace it", path)
	} else if !beamfs.IsNotExist(err) {
		return fmt.Errorf("--output %s: %w", path, err)
	}
	return nil
}

// PrintTokens writes, for every line of the texts file (empty lines
// included), one line of space-separated token ids with the start and end
// tokens, unpadded and untruncated.
func PrintTokens(ctx context.Context, tok *clip.Tokenizer, path string, w io.Writer) error {
	var r io.Reader
	switch path {
	case "":
		return errors.New("--print_tokens needs --texts=FILE (or - for standard input)")
	case "-":
		r = os.Stdin
	default:
		b, err := beamfs.ReadAll(ctx, path)
		if err != nil {
			return fmt.Errorf("--texts: %w", err)
		}
		r = bytes.NewReader(b)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	bw := bufio.NewWriter(w)
	for sc.Scan() {
		ids := tok.Tokens(strings.TrimSuffix(sc.Text(), "\r"))
		for i, id := range ids {
			if i > 0 {
				bw.WriteByte(' ')
			}
			fmt.Fprint(bw, id)
		}
		bw.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("--texts %s: %w", path, err)
	}
	return bw.Flush()
}
