package imagetag

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"

	"github.com/conceptfreq/conceptfreq/io/paths"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/models/ort"
	"github.com/conceptfreq/conceptfreq/models/preprocess"
	"github.com/conceptfreq/conceptfreq/models/tagging"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
	"github.com/conceptfreq/conceptfreq/transforms/neardup"
)

// Tagger scores preprocessed images. Implementations run a model
// (onnxTagger).
type Tagger interface {
	// Options is the preprocessing the model expects.
	Options() preprocess.Options
	// Tag scores n images packed NCHW in batch, writing one row of
	// vocabulary-ordered scores (NaN for concepts the model does not know)
	// into scores[i] for each.
	Tag(batch []float32, n int, scores [][]float64) error
}

// ConceptScore is one saved score, by vocabulary index.
type ConceptScore struct {
	Concept int32
	Score   float32
}

// Side is a worker's image side: the tagger (or the saved scores to
// replay) and the settings the Processor applies.
type Side struct {
	Tagger Tagger // nil when replaying saved scores
	// LoadSaved, in recount mode, reads one input shard's saved scores
	// (sample key → scores): only that shard's part, not the whole table.
	LoadSaved  func(ctx context.Context, shard string) (map[string][]ConceptScore, error)
	Known      []bool  // per concept: the tagger knows it
	Threshold  float64 // strict: score > Threshold
	MaxPixels  int64
	Decoding   preprocess.Decoding
	BatchSize  int
	ScoreFloor float64 // scores at or above it are emitted with EmitScores
	EmitScores bool
	// Similarity control (nil Near: none): each tagged image's embedding
	// (the Tagger is an Embedder) searched against the test embeddings.
	Near          neardup.Searcher
	NearIndex     *neardup.Index
	NearThreshold float32 // similarity ≥ it: a near-duplicate
	NearFloor     float32 // similarity ≥ it: listed in near_duplicates/
}

// Embedder is a Tagger whose model gives image embeddings (the embedding
// tagger): TagEmbed is Tag that also appends the n images' embeddings,
// row-major, to emb and returns them.
type Embedder interface {
	TagEmbed(batch []float32, n int, scores [][]float64, emb []float32) ([]float32, error)
}

// Open builds a worker's image side from a resolved configuration: an ONNX
// Runtime session (or the saved scores to replay) and the function that
// releases it.
func (c Config) Open(ctx context.Context, v *caption.Vocabulary, read paths.ReadFunc) (*Side, func() error, error) {
	side := &Side{Threshold: c.Threshold, MaxPixels: c.Image.MaxPixels, BatchSize: c.BatchSize,
		ScoreFloor: c.ScoreFloor, EmitScores: c.EmitScores, Known: make([]bool, len(v.Concepts))}
	if c.ScoresDir != "" {
		unknown := map[string]bool{}
		for _, u := range c.UnknownConcepts {
			unknown[u] = true
		}
		index := map[string]int32{}
		for i, name := range v.Names() {
			index[name] = int32(i)
			side.Known[i] = !unknown[name]
		}
		dir := paths.Join(c.ScoresDir, tables.ImageScoresDir)
		side.LoadSaved = func(ctx context.Context, shard string) (map[string][]ConceptScore, error) {
			path := paths.Join(dir, tables.PartName(shard))
			data, err := read(ctx, path)
			if errors.Is(err, fs.ErrNotExist) {
				return nil, nil // no saved scores: every sample is an image_no_saved_scores reject
			}
			if err != nil {
				return nil, fmt.Errorf("imagetag: recount: %w", err)
			}
			saved := map[string][]ConceptScore{}
			err = tables.ReadScores(data, func(r tables.ScoreRow) error {
				if r.Shard != tables.ValidUTF8(shard) {
					return fmt.Errorf("%s holds scores of shard %s, not %s", path, r.Shard, shard)
				}
				var cs []ConceptScore
				for i, name := range r.Concepts {
					if ci, ok := index[name]; ok {
						cs = append(cs, ConceptScore{Concept: ci, Score: r.Scores[i]})
					}
				}
				saved[r.Key] = cs
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("imagetag: recount: %s: %w", path, err)
			}
			return saved, nil
		}
		var err error
		return side, func() error { return nil }, err
	}
	side.Decoding = c.Decoding()
	if side.Decoding.Native {
		if err := preprocess.NativeError(); err != nil {
			return nil, nil, fmt.Errorf("imagetag: the run was launched with the native image decoder (--decoder=%s), which this worker cannot load: %w", c.Image.Decoder, err)
		}
	}
	model, err := read(ctx, c.Model)
	if err != nil {
		return nil, nil, fmt.Errorf("imagetag: model %s: %w", c.Model, err)
	}
	head, _, err := c.head(ctx, v, model, read)
	if err != nil {
		return nil, nil, err
	}
	copy(side.Known, head.Known)
	s, err := ort.OpenData(c.Model, model, ort.Options{LibPath: ort.ResolveLib(c.OrtLib), Device: c.Device, IntraOpThreads: c.IntraOpThreads})
	if err != nil {
		return nil, nil, err
	}
	side.Tagger = &onnxTagger{s: s, head: head, opts: c.Preprocess}
	if c.Near == nil {
		return side, s.Close, nil
	}
	if head.Kind != tagging.Embedding {
		s.Close()
		return nil, nil, fmt.Errorf("imagetag: --near_duplicates needs the embedding tagger, not %s", head.Kind)
	}
	x, searcher, release, err := c.openNear(ctx, read)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	side.Near, side.NearIndex = searcher, x
	side.NearThreshold, side.NearFloor = float32(c.Near.Threshold), float32(c.Near.Floor)
	return side, func() error {
		err := s.Close()
		if rerr := release(); err == nil {
			err = rerr
		}
		return err
	}, nil
}

// onnxTagger runs the model and maps its outputs through the head.
type onnxTagger struct {
	s    *ort.Session
	head *tagging.Head
	opts preprocess.Options
}

func (t *onnxTagger) Options() preprocess.Options { return t.opts }

func (t *onnxTagger) Tag(batch []float32, n int, scores [][]float64) error {
	_, err := t.TagEmbed(batch, n, scores, nil)
	return err
}

// TagEmbed implements Embedder (meaningful for the embedding head, whose
// model output is the image embedding); a nil emb keeps none.
func (t *onnxTagger) TagEmbed(batch []float32, n int, scores [][]float64, emb []float32) ([]float32, error) {
	out, c, err := t.s.Run(batch, n, t.opts.Size, t.opts.Size)
	if err != nil {
		return emb, err
	}
	if emb != nil {
		emb = append(emb[:0], out[:n*c]...)
	}
	return emb, t.scores(out, c, n, scores)
}

func (t *onnxTagger) scores(out []float32, c, n int, scores [][]float64) error {
	for i := 0; i < n; i++ {
		if err := t.head.Scores(out[i*c:(i+1)*c], scores[i]); err != nil {
			return err
		}
		for j, v := range scores[i] {
			if math.IsInf(v, 0) {
				return fmt.Errorf("imagetag: tagger produced %v for concept %d", v, j)
			}
		}
	}
	return nil
}
