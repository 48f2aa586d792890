package concept_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/conceptfreq/conceptfreq/internal/shareddata"
	"github.com/conceptfreq/conceptfreq/io/shard"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/io/wds"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
	"github.com/conceptfreq/conceptfreq/transforms/concept"
)

func TestProcessShardCaptionExt(t *testing.T) {
	var b bytes.Buffer
	w := wds.NewWriter(&b, false)
	w.WriteSample("000000000", map[string][]byte{"txt": []byte("a dog"), "caption": []byte("a cat")})
	w.WriteSample("000000001", map[string][]byte{"txt": []byte("a dog")})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	lem, _ := caption.English()
	v, err := caption.ParseVocabulary(strings.NewReader("dog\ncat\n"), "v", lem)
	if err != nil {
		t.Fatal(err)
	}
	m, err := caption.NewMatcher(v, lem, caption.AllWords, caption.POSNone)
	if err != nil {
		t.Fatal(err)
	}
	open := func(ctx context.Context, path string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b.Bytes())), nil
	}
	p := &concept.Processor{Rule: concept.MatcherRule(m), CaptionExt: "caption", Names: v.Names()}
	counts := concept.NewCounts(2)
	var rejects []tables.Reject
	st, err := p.ProcessShard(context.Background(), open, "mem.tar", counts, concept.Emitters{Reject: func(r tables.Reject) { rejects = append(rejects, r) }})
	if err != nil {
		t.Fatal(err)
	}
	if counts.Get(0).Text != 0 || counts.Get(1).Text != 1 {
		t.Errorf("counts: got dog=%d cat=%d, want 0 and 1 (captions from .caption)", counts.Get(0).Text, counts.Get(1).Text)
	}
	if st.SamplesRead != 2 || st.SamplesWithCaption != 1 || len(rejects) != 1 || rejects[0].Key != "000000001" || rejects[0].Reason != shard.RejectNoCaption {
		t.Errorf("got stats %+v rejects %+v", st, rejects)
	}
}

func TestProcessShardUnreadable(t *testing.T) {
	lem, _ := caption.English()
	v, _ := caption.ParseVocabulary(strings.NewReader("dog\n"), "v", lem)
	m, _ := caption.NewMatcher(v, lem, caption.AllWords, caption.POSNone)
	p := &concept.Processor{Rule: concept.MatcherRule(m)}
	var rejects []tables.Reject
	open := func(ctx context.Context, path string) (io.ReadCloser, error) { return nil, os.ErrNotExist }
	st, err := p.ProcessShard(context.Background(), open, "gone.tar", concept.NewCounts(1), concept.Emitters{Reject: func(r tables.Reject) { rejects = append(rejects, r) }})
	if err != nil || st.ShardsFailed != 1 || st.Rejects[shard.RejectShardMissing] != 1 || len(rejects) != 1 || !strings.Contains(rejects[0].Detail, "gone.tar") {
		t.Errorf("missing: got stats %+v rejects %+v", st, rejects)
	}
	rejects = nil
	open = func(ctx context.Context, path string) (io.ReadCloser, error) { return nil, os.ErrPermission }
	st, err = p.ProcessShard(context.Background(), open, "locked.tar", concept.NewCounts(1), concept.Emitters{Reject: func(r tables.Reject) { rejects = append(rejects, r) }})
	if err != nil || st.ShardsFailed != 1 || st.Rejects[shard.RejectShardUnreadable] != 1 || len(rejects) != 1 || !strings.Contains(rejects[0].Detail, "locked.tar") {
		t.Errorf("unreadable: got stats %+v rejects %+v", st, rejects)
	}
}

func BenchmarkProcessShardLAION(b *testing.B) {
	data, err := os.ReadFile("../../testdata/shards/laion-00000.tar")
	if err != nil {
		b.Fatal(err)
	}
	v, err := caption.DefaultVocabulary()
	if err != nil {
		b.Fatal(err)
	}
	lem, _ := caption.English()
	m, _ := caption.NewMatcher(v, lem, caption.AllWords, caption.POSNone)
	p := &concept.Processor{Rule: concept.MatcherRule(m)}
	counts := concept.NewCounts(len(v.Concepts))
	open := func(ctx context.Context, path string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}
	b.SetBytes(int64(len(data)))
	var samples int64
	for i := 0; i < b.N; i++ {
		st, err := p.ProcessShard(context.Background(), open, "laion-00000.tar", counts, concept.Emitters{Reject: func(tables.Reject) {}})
		if err != nil {
			b.Fatal(err)
		}
		samples += st.SamplesRead
	}
	b.ReportMetric(float64(samples)/b.Elapsed().Seconds(), "samples/s")
}

// TestWorkersSameOutputs: matching a shard's captions on several goroutines
// gives the same tallies, stats, rejects and sample rows, in the same
// order, as one goroutine, for every rule, on real shards and real Parquet.
func TestWorkersSameOutputs(t *testing.T) {
	lem, _ := caption.English()
	v, err := caption.DefaultVocabulary()
	if err != nil {
		t.Fatal(err)
	}
	pq := shareddata.Path(t, "laion-captions/test_10000.parquet")
	inputs := []string{"../../testdata/shards/laion-00000.tar", "../../testdata/shards/laion-00001.tar.gz", pq}
	open := func(ctx context.Context, path string) (io.ReadCloser, error) { return os.Open(path) }
	type result struct {
		idx     []int
		counts  []concept.Tally
		stats   []concept.Stats
		rejects []tables.Reject
		samples []tables.SampleRow
	}
	run := func(rule caption.Rule, pos caption.POS, workers int) result {
		p := &concept.Processor{Names: v.Names(), EmitSamples: rule != caption.Study}
		if err := p.SetRule(v, lem, rule, pos); err != nil {
			t.Fatal(err)
		}
		if workers > 1 {
			p.Pool = concept.NewMatchPool(p.Rule, workers)
			defer p.Pool.Close()
		}
		var res result
		counts := concept.NewCounts(len(v.Concepts))
		out := concept.Emitters{Reject: func(r tables.Reject) { res.rejects = append(res.rejects, r) },
			Sample: func(r tables.SampleRow) { res.samples = append(res.samples, r) }}
		for _, in := range inputs {
			st, err := p.ProcessShard(context.Background(), open, in, counts, out)
			if err != nil {
				t.Fatal(err)
			}
			res.stats = append(res.stats, st)
		}
		counts.Each(func(i int, c concept.Tally) { res.idx, res.counts = append(res.idx, i), append(res.counts, c) })
		return res
	}
	for _, mode := range []struct {
		rule caption.Rule
		pos  caption.POS
	}{{caption.AllWords, caption.POSNone}, {caption.Phrase, caption.POSNone}, {caption.AllWords, caption.POSNouns}, {caption.Study, caption.POSNone}} {
		one, many := run(mode.rule, mode.pos, 1), run(mode.rule, mode.pos, 3)
		if !reflect.DeepEqual(one, many) {
			t.Errorf("%s/%s: 3 workers differ from 1", mode.rule, mode.pos)
		}
		matched := int64(0)
		for _, st := range one.stats {
			matched += st.SamplesMatched
		}
		if matched < 1000 || mode.rule != caption.Study && len(one.samples) < 10000 {
			t.Errorf("%s/%s: %d samples matched, %d sample rows: the comparison covers too little", mode.rule, mode.pos, matched, len(one.samples))
		}
	}
}
