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
	"log"
	"os"
	"strings"

	"github.com/conceptfreq/conceptfreq/internal/synth"
	"github.com/conceptfreq/conceptfreq/io/captionpq"
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
)

func main() {
	flag.Parse()
	if *output == "" {
		log.Fatal("synth: --output is required")
	}
	if *colourEval {
		if err := os.MkdirAll(*output, 0o755); err != nil {
			log.Fatal(err)
		}
		tr, err := synth.ColourEval(*output)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("synth: wrote the colour evaluation set (%d samples, classes %v) to %s\n", tr.Samples, synth.ColourClasses, *output)
		return
	}
	if *parquetOut {
		if *captions == "" {
			log.Fatal("synth: --parquet needs --captions")
		}
		caps, err := readCaptions(*captions, *captionColumn, *skip, 1<<31-1)
		if err != nil {
			log.Fatal(err)
		}
		n, err := synth.WriteParquet(synth.ParquetConfig{Dir: *output, Files: *shards, RowsPerFile: *samplesPerShard,
			RowGroup: *rowGroup, Captions: caps, Unique: *unique})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("synth: wrote %d caption rows in %d Parquet files to %s\n", n, *shards, *output)
		return
	}
	cfg := synth.Config{Dir: *output, Shards: *shards, SamplesPerShard: *samplesPerShard, Seed: *seed,
		Gzip: *gzipped, ZipfS: *zipfS, MaxPerCaption: *maxPer, BadEvery: *badEvery}
	if *images != "" {
		for _, p := range strings.Split(*images, ",") {
			b, err := os.ReadFile(p)
			if err != nil {
				log.Fatalf("synth: --images: %v", err)
			}
			cfg.Images = append(cfg.Images, b)
		}
	}
	if *captions != "" {
		caps, err := readCaptions(*captions, *captionColumn, *skip, *shards**samplesPerShard)
		if err != nil {
			log.Fatal(err)
		}
		cfg.Captions = caps
	} else {
		lem, err := caption.English()
		if err != nil {
			log.Fatal(err)
		}
		v, err := caption.DefaultVocabulary()
		if err != nil {
			log.Fatal(err)
		}
		cfg.Concepts = synth.PlantableConcepts(v, lem, *nConcepts)
	}
	t, err := synth.Generate(cfg)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("synth: wrote %d samples in %d shards to %s\n", t.Samples, t.Shards, *output)
}

func readCaptions(path, col string, skip, n int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("synth: --captions: %w", err)
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
		return nil, fmt.Errorf("synth: %s: no captions after skipping %d rows", path, skip)
	}
	return out, nil
}
