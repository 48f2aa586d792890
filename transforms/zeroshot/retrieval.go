package zeroshot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/conceptfreq/conceptfreq/io/beamfs"
	"github.com/conceptfreq/conceptfreq/io/paths"
	"github.com/conceptfreq/conceptfreq/io/reject"
	"github.com/conceptfreq/conceptfreq/io/shard"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/models/clip"
	"github.com/conceptfreq/conceptfreq/models/ort"
	"github.com/conceptfreq/conceptfreq/models/preprocess"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
	"github.com/conceptfreq/conceptfreq/transforms/retrieval"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*Item)(nil)).Elem())
	register.DoFn5x1[context.Context, string, func(Item), func(tables.Reject), func(Stats), error](&retrievalShardFn{})
	register.DoFn5x1[context.Context, []byte, func(*Item) bool, func(*Stats) bool, func(*tables.Reject) bool, error](&writeRetrievalFn{})
	register.Emitter1[Item]()
	register.Iter1[Item]()
}

// RejectNoCaptions: a retrieval sample without captions (a txt member of
// caption lines, or a json member with a "captions" list).
const RejectNoCaptions = reject.NoCaption

// RetrievalConfig is the serialisable configuration of a retrieval
// evaluation.
type RetrievalConfig struct {
	ImageModel, ImageInput, ImageOutput string
	TextModel, TextInput, TextOutput    string
	BPE                                 string
	Device, OrtLib                      string
	Threads, BatchSize                  int
	MaxPixels                           int64
	Decoding                            preprocess.Decoding // MaxPixels is the field above
	Preprocess                          preprocess.Options
	MinImages                           int // a concept is kept when at least this many images hold it
}

// Item is one evaluated sample: its image's and captions' unit embeddings.
type Item struct {
	Shard, Key string
	Image      []float32
	Captions   []string
	Texts      [][]float32
}

// Captions reads a retrieval sample's captions: a txt member holds one per
// line (blank lines skipped); a json member a "captions" list of strings.
func Captions(members map[string][]byte) ([]string, string) {
	if b, ok := members["txt"]; ok {
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, l)
			}
		}
		if len(out) > 0 {
			return out, ""
		}
	}
	if b, ok := members["json"]; ok {
		var meta struct {
			Captions []string `json:"captions"`
		}
		if err := json.Unmarshal(b, &meta); err != nil {
			return nil, fmt.Sprintf(".json is not a JSON object with a captions list: %v", err)
		}
		var out []string
		for _, c := range meta.Captions {
			if c = strings.TrimSpace(c); c != "" {
				out = append(out, c)
			}
		}
		if len(out) > 0 {
			return out, ""
		}
	}
	return nil, "no caption: a .txt of caption lines or a .json with a captions list"
}

// EvaluateRetrieval embeds every sample of the shards (image and captions,
// on the workers) and gathers them; WriteRetrieval ranks them.
func EvaluateRetrieval(s beam.Scope, files beam.PCollection, cfg RetrievalConfig) (items, rejects, stats beam.PCollection) {
	s = s.Scope("zeroshot.EvaluateRetrieval")
	items, rejects, st := beam.ParDo3(s, &retrievalShardFn{Config: cfg}, beam.Reshuffle(s, files))
	return items, rejects, beam.Combine(s, mergeStats, st)
}

type retrievalShardFn struct {
	Config RetrievalConfig

	fs         beamfs.Clients
	img, txt   *ort.Session
	embed      *clip.Embedder
	batch      []float32
	pending    []Item
	emitItem   func(Item)
	imageWidth int
}

func (f *retrievalShardFn) Setup(ctx context.Context) error {
	if err := checkDecoder(f.Config.Decoding); err != nil {
		return err
	}
	open := func(path, in, out string) (*ort.Session, error) {
		model, err := f.fs.ReadAll(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("zeroshot: model %s: %w", path, err)
		}
		return ort.OpenData(path, model, ort.Options{LibPath: ort.ResolveLib(f.Config.OrtLib), Device: f.Config.Device,
			IntraOpThreads: f.Config.Threads, Input: in, Output: out})
	}
	var err error
	if f.img, err = open(f.Config.ImageModel, f.Config.ImageInput, f.Config.ImageOutput); err != nil {
		return err
	}
	if f.txt, err = open(f.Config.TextModel, f.Config.TextInput, f.Config.TextOutput); err != nil {
		return err
	}
	b, err := f.fs.ReadAll(ctx, f.Config.BPE)
	if err != nil {
		return fmt.Errorf("zeroshot: BPE merges %s: %w", f.Config.BPE, err)
	}
	tok, err := clip.LoadTokenizer(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("zeroshot: BPE merges %s: %w", f.Config.BPE, err)
	}
	f.embed = &clip.Embedder{Tokenizer: tok, Encoder: f.txt}
	return nil
}

func (f *retrievalShardFn) ProcessElement(ctx context.Context, path string, emitItem func(Item), emitReject func(tables.Reject), emitStats func(Stats)) error {
	f.emitItem = emitItem
	st := Stats{Rejects: map[string]int64{}}
	rej := func(key, reason, detail string) {
		st.Rejects[reason]++
		emitReject(tables.Reject{Shard: path, Key: key, Reason: reason, Detail: detail})
	}
	err := shard.ForEach(ctx, f.fs.Open, path, shard.Options{}, func(s *shard.Sample) error {
		st.SamplesRead++
		if s.Members == nil {
			rej(s.Key, RejectImageMissing, "not a WebDataset sample (a caption row has no image)")
			return nil
		}
		caps, why := Captions(s.Members)
		if why != "" {
			rej(s.Key, RejectNoCaptions, why)
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
		dec := f.Config.Decoding
		dec.MaxPixels = f.Config.MaxPixels
		batch, format, err := dec.Tensor(data, f.Config.Preprocess, f.batch)
		if err != nil {
			reason := RejectImageDecode
			if errors.Is(err, preprocess.ErrTooLarge) {
				reason = RejectImageTooLarge
			}
			rej(s.Key, reason, fmt.Sprintf("%s image: %v", format, err))
			return nil
		}
		texts, err := f.embed.Embed(caps, []string{"{}"})
		if err != nil {
			return fmt.Errorf("zeroshot: %s %s: %w", path, s.Key, err)
		}
		f.batch = batch
		f.pending = append(f.pending, Item{Shard: path, Key: s.Key, Captions: caps, Texts: texts})
		st.Evaluated++
		if len(f.pending) >= max(f.Config.BatchSize, 1) {
			return f.flush()
		}
		return nil
	})
	var fail *shard.Failure
	switch {
	case err == nil:
		st.ShardsRead++
	case errors.As(err, &fail):
		st.ShardsFailed++
		st.Rejects[fail.Reason]++
		emitReject(tables.Reject{Shard: path, Reason: fail.Reason, Detail: fail.Error()})
	default:
		return fmt.Errorf("zeroshot: shard %s: %w", path, err)
	}
	emitStats(st)
	return nil
}

// flush encodes the queued images and emits their items.
func (f *retrievalShardFn) flush() error {
	n := len(f.pending)
	if n == 0 {
		return nil
	}
	size := f.Config.Preprocess.Size
	out, d, err := f.img.Run(f.batch, n, size, size)
	if err != nil {
		return err
	}
	for i := range f.pending {
		it := f.pending[i]
		it.Image = retrieval.Normalize(append([]float32(nil), out[i*d:(i+1)*d]...))
		f.emitItem(it)
	}
	f.batch, f.pending = f.batch[:0], f.pending[:0]
	return nil
}

func (f *retrievalShardFn) FinishBundle(ctx context.Context, emitItem func(Item), emitReject func(tables.Reject), emitStats func(Stats)) error {
	f.emitItem = emitItem
	return f.flush()
}

func (f *retrievalShardFn) Teardown() error {
	var first error
	for _, s := range []*ort.Session{f.img, f.txt} {
		if s != nil {
			if err := s.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	f.img, f.txt = nil, nil
	if err := f.fs.Close(); err != nil && first == nil {
		first = err
	}
	return first
}

// RetrievalStats is eval_stats.json of a retrieval evaluation.
type RetrievalStats struct {
	// Status is complete: the job writes the summary last, once every
	// output is in place (a directory without it is incomplete).
	Status string `json:"status"`
	Stats
	Task     string             `json:"task"`
	Images   int                `json:"images"`
	Captions int                `json:"captions"`
	Concepts int                `json:"concepts"` // kept: held by at least min_images images
	Recall   map[string]float64 `json:"recall"`   // overall, by metric (fractions)
	Run      Run                `json:"run"`
	// MinImages is the --min_images the concepts were kept at.
	MinImages  int       `json:"min_images"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
}

// WriteRetrieval ranks the gathered items (on one worker: a retrieval test
// set's embeddings, 5,000 images × 5 captions × 512 floats ≈ 60 MB, are
// held whole; the similarity matrix never is) and writes
// performance.parquet (per concept and metric, recall as a fraction, the
// metric's name in the prompt column, task retrieval), rejects.parquet and
// eval_stats.json.
func WriteRetrieval(s beam.Scope, dir string, cfg RetrievalConfig, run Run, start time.Time, items, rejects, stats beam.PCollection) {
	s = s.Scope("zeroshot.WriteRetrieval")
	beam.ParDo0(s, &writeRetrievalFn{Dir: dir, MinImages: cfg.MinImages, Run: run, StartUnixNano: start.UnixNano()},
		beam.Impulse(s), beam.SideInput{Input: items}, beam.SideInput{Input: stats}, beam.SideInput{Input: rejects})
}

// RetrievalRow is one row of a retrieval evaluation's performance.parquet:
// the generic performance columns, the metric's name in prompt, and task.
type RetrievalRow struct {
	Model       string  `parquet:"model"`
	Pretraining string  `parquet:"pretraining"`
	Dataset     string  `parquet:"dataset"`
	Concept     string  `parquet:"concept"`
	Metric      float64 `parquet:"metric"`
	Prompt      string  `parquet:"prompt"`
	Task        string  `parquet:"task"`
	Queries     int64   `parquet:"queries"` // the captions (t2i) or images (i2t) holding the concept
}

type writeRetrievalFn struct {
	Dir           string
	MinImages     int
	Run           Run
	StartUnixNano int64
}

func (f *writeRetrievalFn) ProcessElement(ctx context.Context, _ []byte, items func(*Item) bool, stats func(*Stats) bool, rejects func(*tables.Reject) bool) error {
	var all []Item
	var it Item
	for items(&it) {
		all = append(all, it)
	}
	// The test set's order (ties are broken by it): shard, then key.
	sort.Slice(all, func(i, j int) bool {
		if all[i].Shard != all[j].Shard {
			return all[i].Shard < all[j].Shard
		}
		return all[i].Key < all[j].Key
	})
	rs := RetrievalStats{Status: StatusComplete, Task: "retrieval", Run: f.Run, MinImages: f.MinImages, StartedAt: time.Unix(0, f.StartUnixNano).UTC(), Recall: map[string]float64{}}
	var st Stats
	for stats(&st) {
		rs.Stats = mergeStats(rs.Stats, st)
	}
	var rows []RetrievalRow
	if len(all) > 0 {
		var images, texts [][]float32
		var owner []int
		var captions [][]string
		for i, x := range all {
			images = append(images, x.Image)
			captions = append(captions, x.Captions)
			for _, t := range x.Texts {
				texts, owner = append(texts, t), append(owner, i)
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
		perCaption, perImage, kept := retrieval.Concepts(captions, nouns.Keys, f.MinImages)
		ranks, err := retrieval.Rank(images, texts, owner)
		if err != nil {
			return err
		}
		recall, overall := retrieval.PerConcept(ranks, perCaption, perImage, kept)
		for _, r := range recall {
			rows = append(rows, RetrievalRow{Model: f.Run.Model, Pretraining: f.Run.Pretraining, Dataset: f.Run.Dataset,
				Concept: r.Concept, Metric: r.Recall, Prompt: r.Metric, Task: "retrieval", Queries: int64(r.N)})
		}
		rs.Images, rs.Captions, rs.Concepts, rs.Recall = len(images), len(texts), len(kept), overall
	}
	var b bytes.Buffer
	if err := tables.WriteRowsWith(&b, PerformanceFile, rows, f.Run.Provenance(), nil); err != nil {
		return err
	}
	if err := beamfs.WriteBytes(ctx, paths.Join(f.Dir, PerformanceFile), b.Bytes()); err != nil {
		return err
	}
	if err := beamfs.Write(ctx, paths.Join(f.Dir, RejectsFile), func(w io.Writer) error {
		rw, err := tables.NewRejectWriter(w, nil)
		if err != nil {
			return err
		}
		var r tables.Reject
		for rejects(&r) {
			if err := rw.WriteReject(r); err != nil {
				rw.Close()
				return err
			}
		}
		return rw.Close()
	}); err != nil {
		return err
	}
	rs.FinishedAt = time.Now().UTC()
	return beamfs.Write(ctx, paths.Join(f.Dir, StatsFile), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rs)
	})
}

// ReadRetrievalStats reads a retrieval evaluation's eval_stats.json.
func ReadRetrievalStats(ctx context.Context, dir string) (*RetrievalStats, error) {
	path := paths.Join(dir, StatsFile)
	b, err := beamfs.ReadAll(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("zeroshot: reading %s: %w", path, err)
	}
	var rs RetrievalStats
	if err := json.Unmarshal(b, &rs); err != nil {
		return nil, fmt.Errorf("zeroshot: reading %s: %w", path, err)
	}
	return &rs, nil
}
