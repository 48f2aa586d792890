package count

import (
	"context"
	"fmt"
	"github.com/conceptfreq/conceptfreq/transforms/concept"
	"runtime"
	"runtime/debug"
	"sync"

	"github.com/conceptfreq/conceptfreq/io/tables"
)

// A text-only run reads up to GOMAXPROCS of a bundle's shards at once:
// ProcessElement hands the shard to an idle reader and returns, and the
// shards' outputs are emitted, on the DoFn's goroutine, by later
// ProcessElement calls and by FinishBundle, which waits for every shard of
// the bundle. Runners that put many shards in one bundle and split bundles
// only when progress stalls (prism) still keep every core busy, and one
// slow shard does not hold the next. The readers share one pool of caption
// matchers (concept.Processor.Pool), so a bundle of a single big shard keeps every
// core busy too.
//
// Every output of a shard is buffered until the shard is done; runs that
// emit a row per sample (--emit_samples) or tag images stay synchronous.

// shardSlot is one shard reader: its concept.Processor.
type shardSlot struct {
	proc *concept.Processor
}

// countsFree holds the tallies of finished asynchronous shards for the
// next shard, over all of the process's DoFn instances: runShard takes
// them once the shard may be read (shardsOpen), so a runner that keeps
// many instances, each with shards waiting (prism makes an instance per
// bundle split, and keeps it), holds a vocabulary's tallies per shard
// being read, not per shard submitted.
var countsFree sync.Pool

// takeCounts returns tallies for n concepts (runShard resets them).
func takeCounts(n int) *concept.Counts {
	if c, ok := countsFree.Get().(*concept.Counts); ok && c.Len() == n {
		return c
	}
	return concept.NewCounts(n)
}

// shardResult is a shard's figures and, for an asynchronous shard, its
// buffered outputs (its concept.Stats is stats).
type shardResult struct {
	slot    *shardSlot
	counts  []namedTally
	rejects []tables.Reject
	stats   concept.Stats
	millis  int64
	reused  bool
	err     error
}

type namedTally struct {
	name string
	t    concept.Tally
}

// startAsync makes the shard readers (f.proc must have its Pool).
func (f *countShardFn) startAsync() {
	n := runtime.GOMAXPROCS(0)
	f.idle = make(chan *shardSlot, n)
	f.done = make(chan *shardResult, n)
	for i := 0; i < n; i++ {
		p := *f.proc // shares the matchers and the pool; its own scratch
		p.ResetScratch()
		f.idle <- &shardSlot{proc: &p}
	}
}

// submit starts path on an idle reader, emitting finished shards while it
// waits for one.
func (f *countShardFn) submit(ctx context.Context, path string, emitCount func(string, concept.Tally), emitReject func(tables.Reject), emitStats func(concept.Stats)) error {
	var slot *shardSlot
	for slot == nil {
		select {
		case slot = <-f.idle:
		case res := <-f.done:
			f.inflight--
			if err := f.emitResult(ctx, res, emitCount, emitReject, emitStats); err != nil {
				f.drainQuietly()
				return err
			}
		}
	}
	f.inflight++
	go func() {
		res := &shardResult{slot: slot}
		defer func() {
			// A panic fails the bundle, as it would on the DoFn's goroutine,
			// instead of the whole worker process.
			if p := recover(); p != nil {
				res.err = fmt.Errorf("count: shard %s: panic: %v\n%s", path, p, debug.Stack())
				f.done <- res
			}
		}()
		sink := shardSink{
			count: func(name string, t concept.Tally) { res.counts = append(res.counts, namedTally{name, t}) },
			stats: func(concept.Stats) {}, // res.stats, emitted by emitResult
			out: concept.Emitters{Reject: func(r tables.Reject) { res.rejects = append(res.rejects, r) },
				Score: func(tables.ScoreRow) {}, Sample: func(tables.SampleRow) {}, Near: func(tables.NearRow) {}},
		}
		f.runShard(ctx, slot.proc, nil, path, sink, res)
		f.done <- res
	}()
	return nil
}

// drain waits for the shards still running and emits them.
func (f *countShardFn) drain(ctx context.Context, emitCount func(string, concept.Tally), emitReject func(tables.Reject), emitStats func(concept.Stats)) error {
	for f.inflight > 0 {
		res := <-f.done
		f.inflight--
		if err := f.emitResult(ctx, res, emitCount, emitReject, emitStats); err != nil {
			f.drainQuietly()
			return err
		}
	}
	return nil
}

// drainQuietly waits for the shards still running after an error.
func (f *countShardFn) drainQuietly() {
	for f.inflight > 0 {
		res := <-f.done
		f.inflight--
		f.idle <- res.slot
	}
}

func (f *countShardFn) emitResult(ctx context.Context, res *shardResult, emitCount func(string, concept.Tally), emitReject func(tables.Reject), emitStats func(concept.Stats)) error {
	f.idle <- res.slot
	if res.err != nil {
		return res.err
	}
	for _, c := range res.counts {
		emitCount(c.name, c.t)
	}
	for _, r := range res.rejects {
		emitReject(r)
	}
	emitStats(res.stats)
	return f.finishShard(ctx, res)
}
