package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/conceptfreq/conceptfreq/internal/cli"
	"github.com/conceptfreq/conceptfreq/internal/report"
	"github.com/conceptfreq/conceptfreq/io/beamfs"
	"github.com/conceptfreq/conceptfreq/io/reject"
	"github.com/conceptfreq/conceptfreq/io/shard"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/models/ort"
	"github.com/conceptfreq/conceptfreq/models/preprocess"
	"github.com/conceptfreq/conceptfreq/models/tagging"
)

// The image mode: a downstream test set's images → test_embeddings.parquet,
// the input of similarity control (docs/similarity.md). Test sets are
// bounded (≈ 100,000 images), so this is plain Go on one machine too.
var (
	images      = flag.String("images", "", "embed a test set's images instead of concept names: WebDataset shards (comma-separated patterns, or a folder holding them; local or gs://) or a local folder of images (labels: their folders' names); writes dataset, key, label, vector rows to --output (default out/test_embeddings.parquet) and the rejects beside it")
	imageModel  = flag.String("image_model", "", "with --images: ONNX image encoder [N,3,H,W] → [N,D] (user-supplied weights); with --concepts: the image encoder the concept embeddings are for (its sha256 is recorded, and the count job's embedding tagger refuses another model)")
	imageInput  = flag.String("image_input", "", "the image encoder's input name (default: its only input)")
	imageOutput = flag.String("image_output", "", "the image encoder's output name (default: its first output)")
	dataset     = flag.String("dataset", "", "with --images: the test set's name, written in every row (required)")
	labelExt    = flag.String("label_ext", "cls", "with --images on shards: the member holding an image's label (its text, trimmed; absent: null)")
)

// imageFlags are the image preprocessing flags every image command shares
// (preprocess.Flags.Register), so that embed --images feeds the encoder
// what count --tagger=embedding and eval feed it.
var imageFlags = preprocess.DefaultFlags()

func init() {
	imageFlags.Register(flag.CommandLine)
}

// testImage is one image to embed.
type testImage struct {
	shard, key, label string
	data              []byte
}

func runImages(ctx context.Context, stdout io.Writer, start time.Time) error {
	if *dataset == "" || *imageModel == "" {
		return errors.New("--images needs --dataset (the test set's name) and --image_model (a CLIP-style ONNX image encoder)")
	}
	out := *output
	if !flagSet("output") {
		out = "out/" + tables.TestEmbeddingsFile
	}
	rejectsPath := strings.TrimSuffix(out, ".parquet") + "_rejects.parquet"
	if err := checkOutputFile(ctx, out, *overwrite); err != nil {
		return err
	}
	model, err := beamfs.ReadAll(ctx, *imageModel)
	if err != nil {
		return fmt.Errorf("--image_model: %w", err)
	}
	opts, err := tagging.ImageOptions(model, preprocess.KindEncoder, imageFlags)
	if err != nil {
		return fmt.Errorf("--image_model %s: %w", *imageModel, err)
	}
	dec, err := imageFlags.Decoding()
	if err != nil {
		return err
	}
	prov := tables.Provenance{tables.MetaVersion: cli.Version(), tables.MetaImageModelSHA256: sha256Hex(model),
		tables.MetaImageSpec: preprocess.NewSpec(opts, dec).String()}
	s, err := ort.OpenData(*imageModel, model, ort.Options{LibPath: ort.ResolveLib(*ortLib), Device: *device, Input: *imageInput, Output: *imageOutput})
	if err != nil {
		return err
	}
	defer s.Close()

	var rows []tables.TestEmbedding
	var rejects []tables.Reject
	var batch []float32
	var pending []testImage
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		embs, d, err := s.Run(batch, len(pending), opts.Size, opts.Size)
		if err != nil {
			return fmt.Errorf("--image_model %s: %w", *imageModel, err)
		}
		for i, im := range pending {
			v := embs[i*d : (i+1)*d]
			var ss float64
			for _, f := range v {
				ss += float64(f) * float64(f)
			}
			if ss == 0 || math.IsNaN(ss) || math.IsInf(ss, 0) {
				rejects = append(rejects, tables.Reject{Shard: im.shard, Key: im.key, Reason: reject.ImageDecode, Detail: fmt.Sprintf("the encoder's embedding has norm² %v", ss)})
				continue
			}
			inv := float32(1 / math.Sqrt(ss))
			vec := make([]float32, d)
			for k, f := range v {
				vec[k] = f * inv
			}
			rows = append(rows, tables.TestEmbedding{Dataset: *dataset, Key: im.key, Label: im.label, Vector: vec})
		}
		batch, pending = batch[:0], pending[:0]
		return nil
	}
	each := func(im testImage) error {
		var format string
		var err error
		n := len(batch)
		if batch, format, err = dec.Tensor(im.data, opts, batch); err != nil {
			batch = batch[:n]
			reason := preprocess.RejectReason(err)
			rejects = append(rejects, tables.Reject{Shard: im.shard, Key: im.key, Reason: reason, Detail: fmt.Sprintf("%s image: %v", format, err)})
			return nil
		}
		pending = append(pending, testImage{shard: im.shard, key: im.key, label: im.label})
		if len(pending) >= max(*batchSize, 1) {
			return flush()
		}
		return nil
	}
	read := 0
	count := func(im testImage) error { read++; return each(im) }
	if fi, serr := os.Stat(*images); serr == nil && fi.IsDir() && !holdsShards(*images) {
		err = folderImages(*images, count)
	} else {
		err = shardImages(ctx, strings.Split(*images, ","), count, func(r tables.Reject) { read++; rejects = append(rejects, r) })
	}
	if err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	if len(rows) == 0 {
		return fmt.Errorf("--images %s: no image embedded (%s)", *images, report.Plural(int64(len(rejects)), "reject"))
	}
	if err := beamfs.Write(ctx, out, func(w io.Writer) error { return tables.WriteTestEmbeddings(w, rows, prov, nil) }); err != nil {
		return err
	}
	if err := beamfs.Write(ctx, rejectsPath, func(w io.Writer) error {
		rw, err := tables.NewRejectWriter(w, nil)
		if err != nil {
			return err
		}
		for _, r := range rejects {
			if err := rw.WriteReject(r); err != nil {
				return err
			}
		}
		return rw.Close()
	}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "conceptfreq embed: %s of %s (%s read) → %d-dimensional embeddings in %s; %s in %s (%.1f s)\n",
		report.Plural(int64(len(rows)), "image"), *dataset, report.Plural(int64(read), "sample"), len(rows[0].Vector), out,
		report.Plural(int64(len(rejects)), "reject"), rejectsPath, time.Since(start).Seconds())
	return nil
}

// imageExts are the members or file extensions taken as images, in order.
var imageExts = []string{"jpg", "jpeg", "png", "webp", "gif"}

// holdsShards reports whether a local folder holds WebDataset shards at
// its top (then --images reads them as shards, as count's --input does).
func holdsShards(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		n := strings.ToLower(e.Name())
		if !e.IsDir() && (strings.HasSuffix(n, ".tar") || strings.HasSuffix(n, ".tar.gz") || strings.HasSuffix(n, ".tgz")) {
			return true
		}
	}
	return false
}

// folderImages walks dir: every image file, keyed by its path under dir
// without the extension, labelled by its folder's name (none at the top).
func folderImages(dir string, each func(testImage) error) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), "."))
		if d.IsDir() || !slices.Contains(imageExts, ext) {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("--images: %w", err)
		}
		rel, _ := filepath.Rel(dir, path)
		label := ""
		if parent := filepath.Dir(rel); parent != "." {
			label = filepath.Base(parent)
		}
		return each(testImage{shard: dir, key: filepath.ToSlash(strings.TrimSuffix(rel, filepath.Ext(rel))), label: label, data: data})
	})
}

// shardImages reads WebDataset shards: each sample's image member and
// label member; samples without an image and unreadable shards are
// rejects. A sample's caption is not needed.
func shardImages(ctx context.Context, patterns []string, each func(testImage) error, rej func(tables.Reject)) error {
	paths, err := beamfs.Expand(ctx, patterns)
	if err != nil {
		return fmt.Errorf("--images: %w", err)
	}
	if len(paths) == 0 {
		return fmt.Errorf("--images %s matched no files", strings.Join(patterns, ","))
	}
	for _, path := range paths {
		err := shard.ForEach(ctx, beamfs.Open, path, shard.Options{}, func(s *shard.Sample) error {
			if s.Reject != "" && s.Reject != shard.RejectNoCaption {
				rej(tables.Reject{Shard: path, Key: s.Key, Reason: s.Reject, Detail: s.Detail})
				return nil
			}
			var data []byte
			for _, e := range imageExts {
				if b, ok := s.Members[e]; ok {
					data = b
					break
				}
			}
			if data == nil {
				rej(tables.Reject{Shard: path, Key: s.Key, Reason: reject.ImageMissing, Detail: "no image member"})
				return nil
			}
			return each(testImage{shard: path, key: s.Key, label: strings.TrimSpace(string(s.Members[*labelExt])), data: data})
		})
		var f *shard.Failure
		switch {
		case errors.As(err, &f):
			rej(tables.Reject{Shard: path, Reason: f.Reason, Detail: err.Error()})
		case err != nil:
			return fmt.Errorf("--images %s: %w", path, err)
		}
	}
	return nil
}

// flagSet reports whether the named flag was given.
func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// sha256Hex is the hex sha256 of b, as outputs record their inputs.
func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
