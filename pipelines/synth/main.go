// Command synth writes synthetic img2dataset-style WebDataset shards.
//
// Planted mode (default) draws single-word concepts of the default vocabulary
// with a Zipf distribution and records the exact counts in truth.json, with
// the planted vocabulary in vocabulary.txt:
//
//	go run ./pipelines/synth --output=/tmp/synth --shards=4 --samples_per_shard=1000
//
// Parquet mode writes img2dataset-style caption Parquet (URL, TEXT) from
// real captions, optionally made unique (the speed bench's input):
//
//	go run ./pipelines/synth --parquet --unique --captions=../shared/data/laion-captions/test_10000.parquet \
//	    --output=/tmp/pq --shards=10 --samples_per_shard=600000
//
// Real-caption mode wraps real captions and photos into shards:
//
//	go run ./pipelines/synth --output=testdata/shards --captions=../shared/data/laion-captions/test_1000.parquet \
//	    --images=../shared/data/images/123_456.jpg,../shared/data/images/456_123.jpg --shards=2 --samples_per_shard=250
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/conceptfreq/conceptfreq/internal/cli"
	"github.com/conceptfreq/conceptfreq/internal/synth"
	"github.com/conceptfreq/conceptfreq/io/captionpq"
	_ "github.com/conceptfreq/conceptfreq/runners" // registers Beam's filesystems for the output checks
	"github.com/conceptfreq/conceptfreq/transforms/caption"
)

var (
	output          = flag.String("output", "", "directory to write shards into (required)")
	shards          = flag.Int("shards", 4, "number of shards")
	samplesPerShard = flag.Int("samples_per_shard", 1000, "samples in each shard")
	seed            = flag.Uint64("seed", 1, "random seed")
	gzipped         = flag.Bool("gzip", false, "write .tar.gz shards")
	nConcepts       = flag.Int("concepts", 500, "planted mode: number of single-word concepts to plant")
	zipfS           = flag.Float64("zipf", 1.1, "planted mode: Zipf exponent of concept frequencies")
	maxPer          = flag.Int("max_per_caption", 3, "planted mode: most concepts in one caption")
	captions        = flag.String("captions", "", "real-caption mode: img2dataset Parquet file to take captions from")
	captionColumn   = flag.String("caption_column", "", "caption column of --captions (default auto-detected)")
	skip            = flag.Int("skip", 0, "real-caption mode: caption rows to skip first")
	images          = flag.String("images", "", "comma-separated JPEG files to use as images (default: tiny generated JPEGs)")
	badEvery        = flag.Int("bad_every", 0, "plant a sample without a usable caption every N samples (0: none)")
	parquetOut      = flag.Bool("parquet", false, "real-caption mode: write img2dataset-style caption Parquet files (URL, TEXT) instead of shards: --shards files of --samples_per_shard rows")
	rowGroup        = flag.Int("row_group", 65536, "with --parquet: rows per row group")
	unique          = flag.Bool("unique", false, "with --parquet: append \" #<row>\" to every caption so that none repeats")
	colourEval      = flag.Bool("colour_eval", false, "write the planted colour evaluation set for pipelines/eval instead (labelled solid-colour PNGs and classes.txt)")
	colourLaw       = flag.Bool("colour_law", false, "write the planted crawl-to-law set instead: crawl/ shards whose colour classes span 1 to 3,162 samples, eval/ images whose per-class accuracy rises with log frequency, classes.txt")
	colourRetrieval = flag.Bool("colour_retrieval", false, "write the planted retrieval set instead: one shard of solid-colour PNGs with captions (pipelines/eval --task=retrieval)")
	colourTagging   = flag.Bool("colour_tagging", false, "write the image-tagging demo instead: one shard of --samples_per_shard solid-colour PNGs with colour captions, and vocabulary.txt")
	overwrite       = flag.Bool("overwrite", false, "write into a non-empty --output directory")
)

// command groups the flags for --help.
var command = &cli.Command{
	Name:    "synth",
	Summary: "write synthetic img2dataset-style inputs: planted Zipf shards (exact counts in truth.json), real captions wrapped into shards or Parquet, and the planted colour sets",
	Usage: []string{
		"go run ./pipelines/synth --output=out/synth --shards=4 --samples_per_shard=1000     # planted Zipf concepts, truth.json",
		"go run ./pipelines/synth --parquet --unique --captions=captions.parquet --output=out/pq --shards=10 --samples_per_shard=600000",
		"go run ./pipelines/synth --colour_law --output=out/law                             # the crawl-to-law set (crawl/, eval/, classes.txt)",
	},
	Groups: []cli.Group{
		{Title: "Output", Flags: []string{"output", "overwrite", "shards", "samples_per_shard", "seed", "gzip"}},
		{Title: "Planted Zipf concepts (default mode)", Flags: []string{"concepts", "zipf", "max_per_caption", "bad_every", "images"}},
		{Title: "Real captions", Flags: []string{"captions", "caption_column", "skip", "parquet", "row_group", "unique"}},
		{Title: "Planted colour sets", Flags: []string{"colour_eval", "colour_tagging", "colour_law", "colour_retrieval"}},
		{Title: "Other", Flags: []string{"version"}},
	},
}

func main() {
	command.Parse(flag.CommandLine, os.Args[1:], func(w io.Writer) { cli.PrintVersions(w, cli.Versions()) })
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "synth:", cli.Message(err))
		os.Exit(1)
	}
}

func run() error {
	if *output == "" {
		return fmt.Errorf("--output is required")
	}
	if err := cli.CheckOutput(context.Background(), *output, *overwrite); err != nil {
		return err
	}
	if err := os.MkdirAll(*output, 0o755); err != nil {
		return err
	}
	switch {
	case *colourEval:
		tr, err := synth.ColourEval(*output)
		if err != nil {
			return err
		}
		fmt.Printf("synth: wrote the colour evaluation set (%d samples, classes %s) to %s\n", tr.Samples, strings.Join(synth.ColourClasses, ", "), *output)
		return nil
	case *colourRetrieval:
		if err := synth.ColourRetrieval(*output); err != nil {
			return err
		}
		fmt.Printf("synth: wrote the planted retrieval set (%d images with captions, 1 without) to %s\n", len(synth.RetrievalPlan), *output)
		return nil
	case *colourTagging:
		if err := synth.ColourTagging(*output, *samplesPerShard); err != nil {
			return err
		}
		fmt.Printf("synth: wrote the image-tagging demo (%d samples, vocabulary.txt) to %s\n", *samplesPerShard, *output)
		return nil
	case *colourLaw:
		tr, err := synth.ColourLaw(*output)
		if err != nil {
			return err
		}
		fmt.Printf("synth: wrote the crawl-to-law set to %s: crawl/ (%d samples, %d classes shown and named 1 to %d times), eval/ (%d images a class), classes.txt\n",
			*output, tr.Samples, len(tr.Classes), tr.Count[tr.Classes[len(tr.Classes)-1]], synth.LawImagesPerClass)
		return nil
	case *parquetOut:
		if *captions == "" {
			return fmt.Errorf("--parquet needs --captions")
		}
		caps, err := readCaptions(*captions, *captionColumn, *skip, 1<<31-1)
		if err != nil {
			return err
		}
		n, err := synth.WriteParquet(synth.ParquetConfig{Dir: *output, Files: *shards, RowsPerFile: *samplesPerShard,
			RowGroup: *rowGroup, Captions: caps, Unique: *unique})
		if err != nil {
			return err
		}
		fmt.Printf("synth: wrote %d caption rows in %d Parquet files to %s\n", n, *shards, *output)
		return nil
	}
	cfg := synth.Config{Dir: *output, Shards: *shards, SamplesPerShard: *samplesPerShard, Seed: *seed,
		Gzip: *gzipped, ZipfS: *zipfS, MaxPerCaption: *maxPer, BadEvery: *badEvery}
	if *images != "" {
		for _, p := range strings.Split(*images, ",") {
			b, err := os.ReadFile(p)
			if err != nil {
				return fmt.Errorf("--images: %w", err)
			}
			cfg.Images = append(cfg.Images, b)
		}
	}
	if *captions != "" {
		caps, err := readCaptions(*captions, *captionColumn, *skip, *shards**samplesPerShard)
		if err != nil {
			return err
		}
		cfg.Captions = caps
	} else {
		lem, err := caption.English()
		if err != nil {
			return err
		}
		v, err := caption.DefaultVocabulary()
		if err != nil {
			return err
		}
		cfg.Concepts = synth.PlantableConcepts(v, lem, *nConcepts)
	}
	t, err := synth.Generate(cfg)
	if err != nil {
		return err
	}
	fmt.Printf("synth: wrote %d samples in %d shards to %s\n", t.Samples, t.Shards, *output)
	return nil
}

func readCaptions(path, col string, skip, n int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--captions: %w", err)
	}
	defer f.Close()
	r, err := captionpq.NewReader(context.Background(), f, path, captionpq.Options{CaptionColumn: col})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []string
	for i := 0; len(out) < n; i++ {
		row, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if i >= skip {
			out = append(out, row.Caption)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--captions %s: no captions after skipping %d rows", path, skip)
	}
	return out, nil
}
