// Package zeroshot measures a CLIP-style model's zero-shot classification
// accuracy on a labelled image set in WebDataset shards: each image goes
// through the image encoder (ONNX Runtime), its unit embedding is compared
// by cosine with the class embeddings of each prompt set, and per-class
// top-1 and top-5 hits are combined per (prompt set, class).
//
// The per-shard work is plain Go (Classifier); Evaluate is the Beam
// composite and WriteOutputs writes the performance table that
// pipelines/fit --performance reads.
package zeroshot

import (
	"github.com/conceptfreq/conceptfreq/io/reject"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/conceptfreq/conceptfreq/io/beamfs"
	"github.com/conceptfreq/conceptfreq/io/paths"
	"github.com/conceptfreq/conceptfreq/io/shard"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/models/ort"
	"github.com/conceptfreq/conceptfreq/models/preprocess"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*Score)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*Stats)(nil)).Elem())
	register.DoFn5x1[context.Context, string, func(string, Score), func(tables.Reject), func(Stats), error](&evalShardFn{})
	register.Emitter2[string, Score]()
	register.Emitter1[Stats]()
	register.Function2x1[Score, Score, Score](mergeScore)
	register.Function2x1[Stats, Stats, Stats](mergeStats)
}

// Reject reasons of an evaluation (besides io/shard's shard-level ones).
const (
	RejectNoLabel       = reject.NoLabel      // no cls, txt or json label member
	RejectBadLabel      = reject.BadLabel     // a label that is not a class index or name
	RejectImageMissing  = reject.ImageMissing // no image member
	RejectImageDecode   = reject.ImageDecode
	RejectImageTooLarge = reject.ImageTooLarge
)

// Config is the serialisable configuration of an evaluation.
type Config struct {
	Classes    []string      // class names; a cls label is an index into it
	Prompts    []string      // prompt-set names, parallel to Embeddings
	Embeddings [][][]float32 // per prompt set, per class: a unit text embedding
	Model      string        // ONNX image encoder (local or gs://)
	Input      string        // its input name (default: its only input)
	Output     string        // its output name (default: its first output)
	Device     string
	OrtLib     string
	Threads    int
	BatchSize  int
	MaxPixels  int64
	Decoding   preprocess.Decoding // MaxPixels is the field above
	Preprocess preprocess.Options
	TopK       int // the wider hit (default 5)
}

// Score is the hits of one (prompt set, class): of N images of the class,
// Top1 had it as the best match and TopK among the best K.
type Score struct {
	N, Top1, TopK int64
}

func mergeScore(a, b Score) Score { return Score{a.N + b.N, a.Top1 + b.Top1, a.TopK + b.TopK} }

// Stats are an evaluation's tallies.
type Stats struct {
	ShardsRead   int64            `json:"shards_read"`
	ShardsFailed int64            `json:"shards_failed"`
	SamplesRead  int64            `json:"samples_read"`
	Evaluated    int64            `json:"samples_evaluated"`
	Rejects      map[string]int64 `json:"rejects"`
}

func mergeStats(a, b Stats) Stats {
	a.ShardsRead += b.ShardsRead
	a.ShardsFailed += b.ShardsFailed
	a.SamplesRead += b.SamplesRead
	a.Evaluated += b.Evaluated
	for k, v := range b.Rejects {
		if a.Rejects == nil {
			a.Rejects = map[string]int64{}
		}
		a.Rejects[k] += v
	}
	return a
}

// Key joins a prompt set and a class into a Score key.
func Key(prompt, class string) string { return prompt + "\x00" + class }

// SplitKey undoes Key.
func SplitKey(k string) (prompt, class string) {
	prompt, class, _ = strings.Cut(k, "\x00")
	return prompt, class
}

// Outputs of Evaluate.
type Outputs struct {
	Scores  beam.PCollection // KV<string, Score>, keyed by Key(prompt, class)
	Rejects beam.PCollection // tables.Reject
	Stats   beam.PCollection // Stats, one merged element
}

// Evaluate classifies every labelled image of the shards (a
// PCollection<string> of paths, reshuffled over workers) and combines the
// hits per (prompt set, class).
func Evaluate(s beam.Scope, shards beam.PCollection, cfg Config) Outputs {
	s = s.Scope("zeroshot.Evaluate")
	shards = beam.Reshuffle(s, shards)
	scores, rejects, stats := beam.ParDo3(s, &evalShardFn{Config: cfg}, shards)
	return Outputs{
		Scores:  beam.CombinePerKey(s, mergeScore, scores),
		Rejects: rejects,
		Stats:   beam.Combine(s, mergeStats, stats),
	}
}

// ImageEncoder embeds n preprocessed images (NCHW, flattened).
type ImageEncoder interface {
	Run(batch []float32, n, h, w int) ([]float32, int, error)
}

// Classifier does the per-shard work: labels, images, batches through the
// image encoder, top-k per prompt set. Use one per goroutine.
type Classifier struct {
	Config  Config
	Encoder ImageEncoder

	classIndex map[string]int
	batch      []float32
	labels     []int
	scores     map[string]Score
	sims       []float64
	order      []int
}

// NewClassifier checks cfg and prepares a classifier.
func NewClassifier(cfg Config, enc ImageEncoder) (*Classifier, error) {
	if len(cfg.Classes) == 0 {
		return nil, errors.New("zeroshot: no classes")
	}
	if len(cfg.Prompts) != len(cfg.Embeddings) || len(cfg.Prompts) == 0 {
		return nil, fmt.Errorf("zeroshot: %d prompt sets for %d embedding sets", len(cfg.Prompts), len(cfg.Embeddings))
	}
	for p, e := range cfg.Embeddings {
		if len(e) != len(cfg.Classes) {
			return nil, fmt.Errorf("zeroshot: prompt set %s has %d class embeddings for %d classes", cfg.Prompts[p], len(e), len(cfg.Classes))
		}
	}
	c := &Classifier{Config: cfg, Encoder: enc, classIndex: map[string]int{}, scores: map[string]Score{}}
	for i, name := range cfg.Classes {
		c.classIndex[strings.ToLower(strings.TrimSpace(name))] = i
	}
	return c, nil
}

// Label returns a sample's class index from its cls member (an index), else
// its txt member or json "label"/"class" field (an index or a class name).
// reason is set when there is none.
func (c *Classifier) Label(members map[string][]byte) (class int, reason, detail string) {
	parse := func(v string, where string) (int, string, string) {
		v = strings.TrimSpace(v)
		if i, err := strconv.Atoi(v); err == nil {
			if i < 0 || i >= len(c.Config.Classes) {
				return -1, RejectBadLabel, fmt.Sprintf("%s: class index %d out of range [0, %d)", where, i, len(c.Config.Classes))
			}
			return i, "", ""
		}
		if i, ok := c.classIndex[strings.ToLower(v)]; ok {
			return i, "", ""
		}
		return -1, RejectBadLabel, fmt.Sprintf("%s: %q is not a class name or index", where, v)
	}
	if b, ok := members["cls"]; ok {
		return parse(string(b), ".cls")
	}
	if b, ok := members["txt"]; ok {
		return parse(string(b), ".txt")
	}
	if b, ok := members["json"]; ok {
		var meta map[string]any
		if err := json.Unmarshal(b, &meta); err != nil {
			return -1, RejectBadLabel, ".json: " + err.Error()
		}
		for _, k := range []string{"label", "class", "cls"} {
			if v, ok := meta[k]; ok {
				return parse(fmt.Sprint(v), ".json "+k)
			}
		}
	}
	return -1, RejectNoLabel, "no .cls, .txt or .json label member"
}

// Emit receives a classifier's rejects.
type Emit func(tables.Reject)

// ProcessShard reads one shard, queues its labelled images and classifies
// them batch by batch (the partial batch waits for Flush or later shards).
// Problems with the data become rejects; the error is for failures that are
// not the data's fault.
func (c *Classifier) ProcessShard(ctx context.Context, open paths.OpenFunc, path string, reject Emit) (Stats, error) {
	st := Stats{Rejects: map[string]int64{}}
	rej := func(key, reason, detail string) {
		st.Rejects[reason]++
		reject(tables.Reject{Shard: path, Key: key, Reason: reason, Detail: detail})
	}
	err := shard.ForEach(ctx, open, path, shard.Options{}, func(s *shard.Sample) error {
		st.SamplesRead++
		if s.Members == nil {
			rej(s.Key, RejectImageMissing, "not a WebDataset sample (a caption row has no image)")
			return nil
		}
		class, reason, detail := c.Label(s.Members)
		if reason != "" {
			rej(s.Key, reason, detail)
			return nil
		}
		var data []byte
		for _, e := range []string{"jpg", "jpeg", "png", "webp", "gif"} {
			if b, ok := s.Members[e]; ok {
				data = b
				break
			}
		}
		if data == nil {
			rej(s.Key, RejectImageMissing, "no image member")
			return nil
		}
		dec := c.Config.Decoding
		dec.MaxPixels = c.Config.MaxPixels
		batch, format, err := dec.Tensor(data, c.Config.Preprocess, c.batch)
		if err != nil {
			reason := RejectImageDecode
			if errors.Is(err, preprocess.ErrTooLarge) {
				reason = RejectImageTooLarge
			}
			rej(s.Key, reason, fmt.Sprintf("%s image: %v", format, err))
			return nil
		}
		c.batch = batch
		c.labels = append(c.labels, class)
		st.Evaluated++
		if len(c.labels) >= max(c.Config.BatchSize, 1) {
			return c.Flush()
		}
		return nil
	})
	var f *shard.Failure
	switch {
	case err == nil:
		st.ShardsRead++
	case errors.As(err, &f):
		st.ShardsFailed++
		st.Rejects[f.Reason]++
		reject(tables.Reject{Shard: path, Reason: f.Reason, Detail: f.Error()})
	default:
		return st, fmt.Errorf("zeroshot: shard %s: %w", path, err)
	}
	return st, nil
}

// Flush classifies the queued images.
func (c *Classifier) Flush() error {
	n := len(c.labels)
	if n == 0 {
		return nil
	}
	size := c.Config.Preprocess.Size
	out, d, err := c.Encoder.Run(c.batch, n, size, size)
	if err != nil {
		return err
	}
	for i, label := range c.labels {
		c.classify(out[i*d:(i+1)*d], label)
	}
	c.batch, c.labels = c.batch[:0], c.labels[:0]
	return nil
}

// classify scores one image embedding against every prompt set's classes.
func (c *Classifier) classify(emb []float32, label int) {
	k := c.Config.TopK
	if k <= 0 {
		k = 5
	}
	norm := 0.0
	for _, v := range emb {
		norm += float64(v) * float64(v)
	}
	norm = math.Sqrt(norm)
	for p, classes := range c.Config.Embeddings {
		c.sims = c.sims[:0]
		c.order = c.order[:0]
		for j, ce := range classes {
			dot := 0.0
			for t, v := range ce {
				if t < len(emb) {
					dot += float64(v) * float64(emb[t])
				}
			}
			if norm > 0 {
				dot /= norm
			}
			c.sims = append(c.sims, dot)
			c.order = append(c.order, j)
		}
		// Rank by similarity, ties to the lower class index (argmax's rule).
		sort.SliceStable(c.order, func(a, b int) bool { return c.sims[c.order[a]] > c.sims[c.order[b]] })
		key := Key(c.Config.Prompts[p], c.Config.Classes[label])
		sc := c.scores[key]
		sc.N++
		if c.order[0] == label {
			sc.Top1++
		}
		for _, j := range c.order[:min(k, len(c.order))] {
			if j == label {
				sc.TopK++
			}
		}
		c.scores[key] = sc
	}
}

// TakeScores returns the scores gathered since the last call and resets
// them.
func (c *Classifier) TakeScores() map[string]Score {
	out := c.scores
	c.scores = map[string]Score{}
	return out
}

// evalShardFn is the Beam layer over Classifier.
type evalShardFn struct {
	Config Config

	cls *Classifier
	fs  beamfs.Clients
	s   *ort.Session
}

func (f *evalShardFn) Setup(ctx context.Context) error {
	if err := checkDecoder(f.Config.Decoding); err != nil {
		return err
	}
	model, err := f.fs.ReadAll(ctx, f.Config.Model)
	if err != nil {
		return fmt.Errorf("zeroshot: image model %s: %w", f.Config.Model, err)
	}
	s, err := ort.OpenData(f.Config.Model, model, ort.Options{LibPath: ort.ResolveLib(f.Config.OrtLib), Device: f.Config.Device,
		IntraOpThreads: f.Config.Threads, Input: f.Config.Input, Output: f.Config.Output})
	if err != nil {
		return err
	}
	f.s = s
	f.cls, err = NewClassifier(f.Config, s)
	return err
}

func (f *evalShardFn) ProcessElement(ctx context.Context, path string, emitScore func(string, Score), emitReject func(tables.Reject), emitStats func(Stats)) error {
	st, err := f.cls.ProcessShard(ctx, f.fs.Open, path, emitReject)
	if err != nil {
		return err
	}
	for k, sc := range f.cls.TakeScores() {
		emitScore(k, sc)
	}
	emitStats(st)
	return nil
}

// FinishBundle classifies the images still queued by the bundle's shards.
func (f *evalShardFn) FinishBundle(ctx context.Context, emitScore func(string, Score), emitReject func(tables.Reject), emitStats func(Stats)) error {
	if err := f.cls.Flush(); err != nil {
		return err
	}
	for k, sc := range f.cls.TakeScores() {
		emitScore(k, sc)
	}
	return nil
}

func (f *evalShardFn) Teardown() error {
	var first error
	if f.s != nil {
		first = f.s.Close()
		f.s = nil
	}
	if err := f.fs.Close(); err != nil && first == nil {
		first = err
	}
	return first
}

// checkDecoder fails a worker that cannot load the native decoder the run
// was launched with.
func checkDecoder(d preprocess.Decoding) error {
	if !d.Native {
		return nil
	}
	if err := preprocess.NativeError(); err != nil {
		return fmt.Errorf("zeroshot: the run was launched with the native image decoder, which this worker cannot load: %w", err)
	}
	return nil
}
