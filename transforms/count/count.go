// Package count is the Beam layer of the text side: it reads shards, matches
// their captions against a vocabulary and tallies per-concept counts, rejects
// and run statistics. The per-shard work is plain Go (Processor); the DoFns
// here only open files through Beam's filesystems and emit.
package count

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"

	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*tables.Reject)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*Stats)(nil)).Elem())
	register.DoFn5x1[context.Context, string, func(string, int64), func(tables.Reject), func(Stats), error](&countShardFn{})
	register.Emitter2[string, int64]()
	register.Emitter1[tables.Reject]()
	register.Emitter1[Stats]()
	register.Function2x1[Stats, Stats, Stats](mergeStats)
}

// Config is the serialisable configuration of the text side.
type Config struct {
	Concepts      []caption.Concept
	Rule          caption.Rule
	POS           caption.POS
	CaptionExt    string
	CaptionColumn string
}

// Captions reads every shard named in files (a PCollection<string> of paths),
// matches each sample's caption and returns:
//   - counts: PCollection<KV<string,int64>>, concept name → number of samples
//     whose caption mentions it (concepts with no match are absent);
//   - rejects: PCollection<tables.Reject>;
//   - stats: PCollection<Stats>, one merged element (absent when files is empty).
func Captions(s beam.Scope, files beam.PCollection, cfg Config) (counts, rejects, statsOut beam.PCollection) {
	s = s.Scope("count.Captions")
	shards := beam.Reshuffle(s, files)
	perShard, rej, st := beam.ParDo3(s, &countShardFn{Config: cfg}, shards)
	counts = stats.SumPerKey(s, perShard)
	statsOut = beam.Combine(s, mergeStats, st)
	return counts, rej, statsOut
}

func mergeStats(a, b Stats) Stats {
	a.Merge(b)
	return a
}

// countShardFn processes one shard per element.
type countShardFn struct {
	Config Config

	proc   *Processor
	counts []int64
	fs     map[string]filesystem.Interface // by scheme, opened lazily, closed in Teardown

	samplesRead, samplesCounted, samplesRejected, shardsFailed beam.Counter
}

func (f *countShardFn) Setup() error {
	lem, err := caption.English()
	if err != nil {
		return err
	}
	v := &caption.Vocabulary{Concepts: f.Config.Concepts}
	m, err := caption.NewMatcher(v, lem, f.Config.Rule, f.Config.POS)
	if err != nil {
		return err
	}
	f.proc = &Processor{Matcher: m, CaptionExt: f.Config.CaptionExt, CaptionColumn: f.Config.CaptionColumn}
	f.counts = make([]int64, len(f.Config.Concepts))
	f.samplesRead = beam.NewCounter("count", "samplesRead")
	f.samplesCounted = beam.NewCounter("count", "samplesWithCaption")
	f.samplesRejected = beam.NewCounter("count", "samplesRejected")
	f.shardsFailed = beam.NewCounter("count", "shardsFailed")
	return nil
}

func (f *countShardFn) ProcessElement(ctx context.Context, path string, emitCount func(string, int64), emitReject func(tables.Reject), emitStats func(Stats)) error {
	clear(f.counts)
	st := f.proc.ProcessShard(ctx, f.open, path, f.counts, emitReject)
	for i, n := range f.counts {
		if n != 0 {
			emitCount(f.Config.Concepts[i].Name, n)
		}
	}
	f.samplesRead.Inc(ctx, st.SamplesRead)
	f.samplesCounted.Inc(ctx, st.SamplesWithCaption)
	f.samplesRejected.Inc(ctx, st.SamplesRead-st.SamplesWithCaption)
	f.shardsFailed.Inc(ctx, st.ShardsFailed)
	emitStats(st)
	return nil
}

// open opens path through the Beam filesystem registered for its scheme,
// reusing one filesystem client per scheme for the DoFn's lifetime.
func (f *countShardFn) open(ctx context.Context, path string) (io.ReadCloser, error) {
	scheme := "local"
	if i := strings.Index(path, "://"); i > 0 {
		scheme = path[:i]
	}
	fs, ok := f.fs[scheme]
	if !ok {
		var err error
		if fs, err = filesystem.New(ctx, path); err != nil {
			return nil, err
		}
		if f.fs == nil {
			f.fs = map[string]filesystem.Interface{}
		}
		f.fs[scheme] = fs
	}
	return fs.OpenRead(ctx, path)
}

func (f *countShardFn) Teardown() error {
	var first error
	for _, fs := range f.fs {
		if err := fs.Close(); err != nil && first == nil {
			first = fmt.Errorf("count: closing filesystem: %w", err)
		}
	}
	f.fs = nil
	return first
}
