package count

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/conceptfreq/conceptfreq/io/files"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/models/ort"
	"github.com/conceptfreq/conceptfreq/models/preprocess"
	"github.com/conceptfreq/conceptfreq/models/tagging"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
)

// ImageTagger scores preprocessed images. Implementations run a model
// (onnxTagger) or replay saved scores.
type ImageTagger interface {
	// Options is the preprocessing the model expects.
	Options() preprocess.Options
	// Tag scores n images packed NCHW in batch, writing one row of
	// vocabulary-ordered scores (NaN for concepts the model does not know)
	// into scores[i] for each.
	Tag(batch []float32, n int, scores [][]float64) error
}

// conceptScore is one saved score, by vocabulary index.
type conceptScore struct {
	concept int32
	score   float32
}

// ImageSide configures image tagging for a Processor.
type ImageSide struct {
	Tagger ImageTagger // nil when replaying saved scores
	// LoadSaved, in recount mode, reads one input shard's saved scores
	// (sample key → scores): only that shard's part, not the whole table.
	LoadSaved  func(ctx context.Context, shard string) (map[string][]conceptScore, error)
	Known      []bool  // per concept: the tagger knows it
	Threshold  float64 // strict: score > Threshold
	MaxPixels  int64
	BatchSize  int
	ScoreFloor float64 // scores at or above it are emitted with EmitScores
	EmitScores bool
}

// imageExts are tried in order for a sample's image member.
var imageExts = []string{"jpg", "jpeg", "png", "webp", "gif"}

type pendingSample struct {
	shard, key, caption string
	text                []int // vocabulary indices in the caption
}

type imageState struct {
	batch   []float32
	pending []pendingSample
	scores  [][]float64
	inText  []bool
}

// image queues a sample's image for tagging (or replays its saved scores).
func (r *shardRun) image(key, caption string, text []int, members map[string][]byte) error {
	side := r.p.Image
	ps := pendingSample{shard: r.path, key: key, caption: caption, text: append([]int(nil), text...)}
	if side.LoadSaved != nil {
		saved, ok := r.saved[key]
		if !ok {
			r.reject(key, RejectImageNoScores, "no saved scores for this sample (text counted)")
			return nil
		}
		scores := r.scoreRow(0)
		for i := range scores {
			scores[i] = math.NaN()
			if side.Known[i] {
				scores[i] = 0
			}
		}
		for _, cs := range saved {
			scores[cs.concept] = float64(cs.score)
		}
		r.tally(ps, scores)
		return nil
	}
	var data []byte
	for _, e := range imageExts {
		if b, ok := members[e]; ok {
			data = b
			break
		}
	}
	if data == nil {
		r.reject(key, RejectImageMissing, "no image member (text counted)")
		return nil
	}
	img, format, err := preprocess.Decode(data, side.MaxPixels)
	if err != nil {
		reason := RejectImageDecode
		switch {
		case errors.Is(err, preprocess.ErrUnsupported):
			reason = RejectImageUnsupported
		case errors.Is(err, preprocess.ErrTooLarge):
			reason = RejectImageTooLarge
		}
		r.reject(key, reason, fmt.Sprintf("%s image: %v (text counted)", format, err))
		return nil
	}
	st := &r.p.img
	st.batch = preprocess.Tensor(img, side.Tagger.Options(), st.batch)
	st.pending = append(st.pending, ps)
	if len(st.pending) >= max(side.BatchSize, 1) {
		return r.flush()
	}
	return nil
}

func (r *shardRun) scoreRow(i int) []float64 {
	st := &r.p.img
	for len(st.scores) <= i {
		st.scores = append(st.scores, make([]float64, len(r.counts)))
	}
	return st.scores[i]
}

// Flush tags the images still queued (a partial batch), tallying them into
// counts and emitting their rows to out. The queue outlives ProcessShard so
// that batches fill across the shards of a bundle: the Beam layer calls
// Flush at the end of each bundle, and standalone users after their last
// shard.
func (p *Processor) Flush(counts []Tally, out Emitters) (Stats, error) {
	r := &shardRun{p: p, counts: counts, out: out, st: Stats{Rejects: map[string]int64{}}}
	err := r.flush()
	return r.st, err
}

// flush tags the queued images as one batch.
func (r *shardRun) flush() error {
	st := &r.p.img
	n := len(st.pending)
	if n == 0 || r.p.Image == nil || r.p.Image.Tagger == nil {
		return nil
	}
	rows := make([][]float64, n)
	for i := range rows {
		rows[i] = r.scoreRow(i)
	}
	if err := r.p.Image.Tagger.Tag(st.batch, n, rows); err != nil {
		return err
	}
	for i, ps := range st.pending {
		r.tally(ps, rows[i])
	}
	st.batch = st.batch[:0]
	st.pending = st.pending[:0]
	return nil
}

// tally counts one tagged sample: image, matched, text-only and image-only
// counts, misalignment, and the optional rows.
func (r *shardRun) tally(ps pendingSample, scores []float64) {
	side := r.p.Image
	st := &r.p.img
	if len(st.inText) != len(r.counts) {
		st.inText = make([]bool, len(r.counts))
	}
	for _, c := range ps.text {
		st.inText[c] = true
	}
	r.st.ImagesTagged++
	var imageConcepts []string
	var row tables.ScoreRow
	imageAny, textKnown, overlap := false, false, false
	for c, s := range scores {
		if math.IsNaN(s) {
			continue // unknown to the tagger
		}
		inImage := s > side.Threshold
		if side.EmitScores && s >= side.ScoreFloor {
			row.Concepts = append(row.Concepts, r.p.Names[c])
			row.Scores = append(row.Scores, float32(s))
		}
		t := &r.counts[c]
		switch {
		case inImage && st.inText[c]:
			t.Image++
			t.Matched++
			overlap = true
		case inImage:
			t.Image++
			t.ImageOnly++
		case st.inText[c]:
			t.TextOnly++
		}
		if st.inText[c] {
			textKnown = true
		}
		if inImage {
			imageAny = true
			if r.p.EmitSamples {
				imageConcepts = append(imageConcepts, r.p.Names[c])
			}
		}
	}
	if imageAny {
		r.st.ImagesWithConcept++
	}
	if textKnown {
		r.st.TaggedWithTextConcept++
	}
	// The study's misalignment: both sets non-empty (over concepts the tagger
	// knows) and disjoint.
	if imageAny && textKnown {
		r.st.MisalignmentConsidered++
		if !overlap {
			r.st.Misaligned++
		}
	}
	if side.EmitScores && r.out.Score != nil {
		row.Shard, row.Key = ps.shard, ps.key
		r.out.Score(row)
	}
	if r.p.EmitSamples && r.out.Sample != nil {
		text := make([]string, 0, len(ps.text))
		for _, c := range ps.text {
			text = append(text, r.p.Names[c])
		}
		r.out.Sample(tables.SampleRow{Shard: ps.shard, Key: ps.key, Caption: ps.caption, TextConcepts: text, ImageConcepts: imageConcepts})
	}
	for _, c := range ps.text {
		st.inText[c] = false
	}
}

// open builds a worker's image side from a resolved configuration: an ONNX
// Runtime session (or the saved scores to replay) and the function that
// releases it.
func (c ImageConfig) open(ctx context.Context, v *caption.Vocabulary, read ReadFunc) (*ImageSide, func() error, error) {
	side := &ImageSide{Threshold: c.Threshold, MaxPixels: c.MaxPixels, BatchSize: c.BatchSize,
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
		dir := files.Join(c.ScoresDir, tables.ImageScoresDir)
		side.LoadSaved = func(ctx context.Context, shard string) (map[string][]conceptScore, error) {
			path := files.Join(dir, tables.PartName(shard))
			data, err := read(ctx, path)
			if files.IsNotExist(err) {
				return nil, nil // no saved scores: every sample is an image_no_saved_scores reject
			}
			if err != nil {
				return nil, fmt.Errorf("count: recount: %w", err)
			}
			saved := map[string][]conceptScore{}
			err = tables.ReadScores(data, func(r tables.ScoreRow) error {
				if r.Shard != shard {
					return fmt.Errorf("%s holds scores of shard %s, not %s", path, r.Shard, shard)
				}
				var cs []conceptScore
				for i, name := range r.Concepts {
					if ci, ok := index[name]; ok {
						cs = append(cs, conceptScore{concept: ci, score: r.Scores[i]})
					}
				}
				saved[r.Key] = cs
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("count: recount: %s: %w", path, err)
			}
			return saved, nil
		}
		var err error
		return side, func() error { return nil }, err
	}
	model, err := read(ctx, c.Model)
	if err != nil {
		return nil, nil, fmt.Errorf("count: model %s: %w", c.Model, err)
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
	return side, s.Close, nil
}

// onnxTagger runs the model and maps its outputs through the head.
type onnxTagger struct {
	s    *ort.Session
	head *tagging.Head
	opts preprocess.Options
}

func (t *onnxTagger) Options() preprocess.Options { return t.opts }

func (t *onnxTagger) Tag(batch []float32, n int, scores [][]float64) error {
	out, c, err := t.s.Run(batch, n, t.opts.Size, t.opts.Size)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if err := t.head.Scores(out[i*c:(i+1)*c], scores[i]); err != nil {
			return err
		}
		for j, v := range scores[i] {
			if math.IsInf(v, 0) {
				return fmt.Errorf("count: tagger produced %v for concept %d", v, j)
			}
		}
	}
	return nil
}
