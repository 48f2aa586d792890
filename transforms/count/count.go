// Package count is the Beam layer of the count job: it reads shards, matches
// their captions against a vocabulary, optionally tags their images with an
// ONNX model, and tallies per-concept counts, rejects and run statistics.
// The per-shard work is plain Go (concept.Processor); the DoFns here open files
// through Beam's filesystems, hold per-worker state and emit.
package count

import (
	"context"
	"github.com/conceptfreq/conceptfreq/transforms/concept"
	"io"
	pathpkg "path"
	"reflect"
	"runtime"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/conceptfreq/conceptfreq/io/beamfs"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*tables.Reject)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*tables.ScoreRow)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*tables.SampleRow)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*tables.NearRow)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*concept.Stats)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*concept.Tally)(nil)).Elem())
	register.DoFn8x1[context.Context, string, func(string, concept.Tally), func(tables.Reject), func(concept.Stats), func(tables.ScoreRow), func(tables.SampleRow), func(tables.NearRow), error](&countShardFn{})
	register.Emitter2[string, concept.Tally]()
	register.Emitter1[tables.Reject]()
	register.Emitter1[concept.Stats]()
	register.Emitter1[tables.ScoreRow]()
	register.Emitter1[tables.SampleRow]()
	register.Emitter1[tables.NearRow]()
	register.Function2x1[concept.Stats, concept.Stats, concept.Stats](mergeStats)
	register.Function2x1[concept.Tally, concept.Tally, concept.Tally](mergeTally)
}

// Outputs are the PCollections Captions returns.
type Outputs struct {
	Counts  beam.PCollection // KV<string, concept.Tally>: concept → counts (all-zero concepts absent)
	Rejects beam.PCollection // tables.Reject
	Stats   beam.PCollection // concept.Stats, one merged element (absent when there are no files)
	Scores  beam.PCollection // tables.ScoreRow, with Image.EmitScores
	Samples beam.PCollection // tables.SampleRow, with EmitSamples
	Near    beam.PCollection // tables.NearRow, with similarity control
}

// Captions reads every shard named in files (a PCollection<string> of
// paths), reshuffled so shards spread over workers, matches each sample's
// caption, tags its image when cfg.Image asks for it, and combines the
// per-concept counts with a lifted CombinePerKey. cfg must be resolved
// (Request.Resolve).
func Captions(s beam.Scope, files beam.PCollection, cfg Config) Outputs {
	s = s.Scope("count.Captions")
	shards := beam.Reshuffle(s, files)
	perShard, rej, st, scores, samples, near := beam.ParDo6(s, &countShardFn{Config: cfg}, shards)
	return Outputs{
		Counts:  beam.CombinePerKey(s, mergeTally, perShard),
		Rejects: rej,
		Stats:   beam.Combine(s, mergeStats, st),
		Scores:  scores,
		Samples: samples,
		Near:    near,
	}
}

func mergeStats(a, b concept.Stats) concept.Stats {
	a.Merge(b)
	return a
}

func mergeTally(a, b concept.Tally) concept.Tally {
	a.Add(b)
	return a
}

// shardsOpen bounds the shards a worker process reads at once, over all
// of its DoFn instances (a Dataflow worker runs one per harness thread, and
// each reads up to GOMAXPROCS shards: see async.go): a shard in flight
// holds its reader's buffers (for Parquet, a batch of at most
// captionpq.DefaultBatchBytes and the page being decoded), so the process's
// memory is bounded by this number, never by the shards in its bundles.
var shardsOpen = make(chan struct{}, runtime.GOMAXPROCS(0))

// countShardFn processes one shard per element.
type countShardFn struct {
	Config Config

	proc    *concept.Processor
	counts  *concept.Counts
	fs      beamfs.Clients // one filesystem client per scheme, closed in Teardown
	closeFn func() error
	// fingerprint names the partials folder (with --state): what a
	// partial must have been made under to be reused.
	fingerprint string

	// Text-only runs read several of a bundle's shards at once (see
	// async.go): idle (nil otherwise) holds the shard readers'
	// Processors, done their finished shards, inflight how many are out.
	idle     chan *shardSlot
	done     chan *shardResult
	inflight int

	samplesRead, samplesCounted, samplesRejected, shardsFailed, imagesTagged, shardsReused beam.Counter
	shardMillis                                                                            beam.Distribution
}

func (f *countShardFn) Setup(ctx context.Context) error {
	f.fingerprint = pathpkg.Base(f.Config.PartialsDir)
	lem, err := caption.English()
	if err != nil {
		return err
	}
	v := f.Config.Vocabulary()
	f.proc = &concept.Processor{Names: v.Names(), CaptionExt: f.Config.CaptionExt, CaptionColumn: f.Config.CaptionColumn,
		EmitSamples: f.Config.EmitSamples}
	if err := f.proc.SetRule(v, lem, f.Config.Rule, f.Config.POS); err != nil {
		return err
	}
	if f.Config.Image.Enabled() {
		side, closeFn, err := f.Config.Image.Open(ctx, v, f.fs.ReadAll)
		if err != nil {
			return err
		}
		f.proc.Image, f.closeFn = side, closeFn
	}
	if f.proc.Image == nil {
		// Captions are matched on every core, also for a bundle of one
		// big shard, by one pool for the DoFn's lifetime.
		f.proc.Pool = concept.NewMatchPool(f.proc.Rule, runtime.GOMAXPROCS(0))
		if !f.Config.EmitSamples {
			f.startAsync()
		}
	}
	if f.idle == nil {
		f.counts = concept.NewCounts(len(f.Config.Concepts))
	}
	f.samplesRead = beam.NewCounter("count", "samplesRead")
	f.samplesCounted = beam.NewCounter("count", "samplesWithCaption")
	f.samplesRejected = beam.NewCounter("count", "samplesRejected")
	f.shardsFailed = beam.NewCounter("count", "shardsFailed")
	f.imagesTagged = beam.NewCounter("count", "imagesTagged")
	f.shardsReused = beam.NewCounter("count", "shardsReused")
	f.shardMillis = beam.NewDistribution("count", "shardMilliseconds")
	return nil
}

func (f *countShardFn) ProcessElement(ctx context.Context, path string, emitCount func(string, concept.Tally), emitReject func(tables.Reject),
	emitStats func(concept.Stats), emitScore func(tables.ScoreRow), emitSample func(tables.SampleRow), emitNear func(tables.NearRow)) error {
	if f.idle != nil {
		return f.submit(ctx, path, emitCount, emitReject, emitStats)
	}
	res := &shardResult{}
	f.runShard(ctx, f.proc, f.counts, path, shardSink{count: emitCount, stats: emitStats,
		out: concept.Emitters{Reject: emitReject, Score: emitScore, Sample: emitSample, Near: emitNear}}, res)
	return f.finishShard(ctx, res)
}

// shardSink is where a shard's outputs go: the DoFn's emitters, or a
// buffer of an asynchronous shard (async.go).
type shardSink struct {
	count func(string, concept.Tally)
	stats func(concept.Stats)
	out   concept.Emitters
}

// runShard counts one shard (or reuses its --state partial) with proc and
// counts (nil: tallies from countsFree, once the shard may be read),
// sending every output to sink and its figures to res. It touches
// no Beam metric: the caller accounts for res (finishShard) on the DoFn's
// goroutine.
func (f *countShardFn) runShard(ctx context.Context, proc *concept.Processor, counts *concept.Counts, path string, sink shardSink, res *shardResult) {
	shardsOpen <- struct{}{}
	defer func() { <-shardsOpen }()
	if counts == nil {
		counts = takeCounts(len(f.Config.Concepts))
		defer countsFree.Put(counts)
	}
	counts.Reset()
	began := time.Now()
	out := sink.out
	var keep *partial
	var partialAt, damaged, identity string
	if f.Config.PartialsDir != "" {
		if id, err := f.fs.Identity(ctx, path); err == nil {
			identity = id
			partialAt = partialPath(f.Config.PartialsDir, id)
			b, err := f.fs.ReadAll(ctx, partialAt)
			if err == nil {
				var p *partial
				if p, err = decodePartial(b, id, f.fingerprint); err == nil {
					res.stats = f.reuse(p, sink)
					res.reused = true
					return
				}
			}
			if err != nil && !beamfs.IsNotExist(err) {
				// A partial that cannot be read or is not this shard's is
				// a cache miss: the shard is recounted and its partial
				// replaced; run_stats.json lists it.
				damaged = partialAt + ": " + err.Error()
			}
			// Not processed under this fingerprint yet: collect what the
			// shard gives, to keep it.
			keep = &partial{Counts: map[string]concept.Tally{}}
			out = concept.Emitters{
				Reject: func(r tables.Reject) { keep.Rejects = append(keep.Rejects, r); sink.out.Reject(r) },
				Score:  func(r tables.ScoreRow) { keep.Scores = append(keep.Scores, r); sink.out.Score(r) },
				Sample: func(r tables.SampleRow) { keep.Samples = append(keep.Samples, r); sink.out.Sample(r) },
				Near:   func(r tables.NearRow) { keep.Near = append(keep.Near, r); sink.out.Near(r) },
			}
		}
		// A shard without an identity (missing, unreadable) is processed
		// and rejected as usual, and not kept: the next run looks again.
	}
	st, err := proc.ProcessShard(ctx, f.fs.Open, path, counts, out)
	if err != nil {
		res.err = err
		return
	}
	if f.Config.PartialsDir != "" && proc.Image != nil {
		// With --state a shard's partial must hold all of its own rows:
		// tag its queued images now, never in a batch shared with the
		// next shard.
		fl, err := proc.Flush(counts, out)
		if err != nil {
			res.err = err
			return
		}
		st.Merge(fl)
	}
	res.millis = time.Since(began).Milliseconds()
	counts.Each(func(i int, t concept.Tally) {
		sink.count(f.Config.Concepts[i].Name, t)
		if keep != nil {
			keep.Counts[f.Config.Concepts[i].Name] = t
		}
	})
	if damaged != "" {
		st.PartialsDamaged++
		st.DamagedPartials = []string{damaged}
	}
	if keep != nil {
		keep.Stats = st
		keep.Stats.PartialsDamaged, keep.Stats.DamagedPartials = 0, nil
		if err := beamfs.WriteAtomic(ctx, partialAt, func(w io.Writer) error {
			return encodePartial(w, keep, path, identity, f.fingerprint)
		}); err != nil {
			// The state is a cache: failing to keep a partial (a
			// read-only or full state directory) costs the next run a
			// recount, not this run its outputs.
			st.PartialsNotStored++
		}
	}
	sink.stats(st)
	res.stats = st
}

// finishShard accounts for a shard's result in the progress figures and
// Beam metrics.
func (f *countShardFn) finishShard(ctx context.Context, res *shardResult) error {
	if res.err != nil {
		return res.err
	}
	if res.reused {
		f.shardsReused.Inc(ctx, 1)
	} else {
		f.shardMillis.Update(ctx, res.millis)
	}
	f.account(ctx, res.stats)
	return nil
}

// reuse emits a shard's kept partial instead of processing the shard.
func (f *countShardFn) reuse(p *partial, sink shardSink) concept.Stats {
	for name, t := range p.Counts {
		sink.count(name, t)
	}
	for _, r := range p.Rejects {
		sink.out.Reject(r)
	}
	for _, r := range p.Scores {
		sink.out.Score(r)
	}
	for _, r := range p.Samples {
		sink.out.Sample(r)
	}
	for _, r := range p.Near {
		sink.out.Near(r)
	}
	st := p.Stats
	st.ShardsReused = 1
	sink.stats(st)
	return st
}

// account updates the progress figures and Beam metrics with a shard's
// statistics.
func (f *countShardFn) account(ctx context.Context, st concept.Stats) {
	for reason, n := range st.Rejects {
		beam.NewCounter("count", RejectMetric(reason)).Inc(ctx, n)
	}
	progressFor(f.Config.ProgressID).add(st.SamplesRead, st.SamplesRead-st.SamplesWithCaption)
	f.samplesRead.Inc(ctx, st.SamplesRead)
	f.samplesCounted.Inc(ctx, st.SamplesWithCaption)
	f.samplesRejected.Inc(ctx, st.SamplesRead-st.SamplesWithCaption)
	f.shardsFailed.Inc(ctx, st.ShardsFailed)
	f.imagesTagged.Inc(ctx, st.ImagesTagged)
}

// FinishBundle tags the images still queued by the bundle's shards, so
// batches fill across shards and nothing waits past the bundle.
func (f *countShardFn) FinishBundle(ctx context.Context, emitCount func(string, concept.Tally), emitReject func(tables.Reject),
	emitStats func(concept.Stats), emitScore func(tables.ScoreRow), emitSample func(tables.SampleRow), emitNear func(tables.NearRow)) error {
	if f.idle != nil {
		return f.drain(ctx, emitCount, emitReject, emitStats)
	}
	if f.proc.Image == nil {
		return nil
	}
	f.counts.Reset()
	st, err := f.proc.Flush(f.counts, concept.Emitters{Reject: emitReject, Score: emitScore, Sample: emitSample, Near: emitNear})
	if err != nil {
		return err
	}
	f.counts.Each(func(i int, t concept.Tally) { emitCount(f.Config.Concepts[i].Name, t) })
	if st.ImagesTagged > 0 {
		f.imagesTagged.Inc(ctx, st.ImagesTagged)
		emitStats(st)
	}
	return nil
}

func (f *countShardFn) Teardown() error {
	if f.proc != nil && f.proc.Pool != nil {
		f.proc.Pool.Close()
		f.proc.Pool = nil
	}
	var first error
	if f.closeFn != nil {
		first = f.closeFn()
		f.closeFn = nil
	}
	if err := f.fs.Close(); err != nil && first == nil {
		first = err
	}
	return first
}

// RejectMetric names the Beam counter ("count" namespace) of a reject
// reason, camelCase like the others: shard_gzip_bomb → rejectsShardGzipBomb.
func RejectMetric(reason string) string {
	var b strings.Builder
	b.WriteString("rejects")
	for _, part := range strings.Split(reason, "_") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}
