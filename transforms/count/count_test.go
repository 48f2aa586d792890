package count_test

import (
	"bytes"
	"context"
	"fmt"
	"github.com/conceptfreq/conceptfreq/transforms/concept"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/conceptfreq/conceptfreq/io/shard"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/io/wds"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
	"github.com/conceptfreq/conceptfreq/transforms/count"
)

func TestMain(m *testing.M) { ptest.Main(m) }

func init() {
	register.Function2x1(formatTally)
	register.Function1x1(formatReject)
	register.Function1x1(formatStats)
}

func formatTally(concept string, t concept.Tally) string {
	return fmt.Sprintf("%s text=%d image=%d", concept, t.Text, t.Image)
}

func formatReject(r tables.Reject) string {
	return fmt.Sprintf("%s %s %s", filepath.Base(r.Shard), r.Key, r.Reason)
}

func formatStats(s concept.Stats) string {
	return fmt.Sprintf("shards=%d failed=%d read=%d caption=%d matched=%d", s.ShardsRead, s.ShardsFailed, s.SamplesRead, s.SamplesWithCaption, s.SamplesMatched)
}

func writeShard(t *testing.T, path string, samples map[string]map[string][]byte) {
	t.Helper()
	var b bytes.Buffer
	w := wds.NewWriter(&b, false)
	for _, key := range []string{"000", "001", "002", "003"} {
		if m, ok := samples[key]; ok {
			if err := w.WriteSample(key, m); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The count composite on its own, in Beam's testing style: every output
// PCollection is asserted with passert.
func TestCaptionsComposite(t *testing.T) {
	dir := t.TempDir()
	a, b, bad := filepath.Join(dir, "a.tar"), filepath.Join(dir, "b.tar"), filepath.Join(dir, "c.tar")
	writeShard(t, a, map[string]map[string][]byte{
		"000": {"txt": []byte("Two dogs and a cat")},
		"001": {"txt": []byte("a red car parked")},
		"002": {"json": []byte(`{"url": "x"}`)}, // no caption
	})
	writeShard(t, b, map[string]map[string][]byte{
		"000": {"txt": []byte("a cat on a red sofa")},
		"001": {"txt": []byte("  ")}, // empty caption
		"003": {"txt": []byte("a car, red")},
	})
	if err := os.WriteFile(bad, []byte("this is not a tar file, just text that goes on for a while................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................"), 0o644); err != nil {
		t.Fatal(err)
	}
	lem, err := caption.English()
	if err != nil {
		t.Fatal(err)
	}
	v, err := caption.ParseVocabulary(bytes.NewReader([]byte("dog\ncat\nred car\nzebra\n")), "test", lem)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := count.Request{Output: dir, Vocabulary: v, Rule: caption.AllWords, POS: caption.POSNone, CaptionExt: "txt"}.Resolve(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}

	p, s := beam.NewPipelineWithRoot()
	out := count.Captions(s, beam.Create(s, a, b, bad), cfg)
	passert.Equals(s, beam.ParDo(s, formatTally, out.Counts),
		"dog text=1 image=0", "cat text=2 image=0", "red car text=2 image=0")
	passert.Equals(s, beam.ParDo(s, formatReject, out.Rejects),
		"a.tar 002 "+shard.RejectNoCaption, "b.tar 001 "+shard.RejectEmptyCaption, "c.tar  "+shard.RejectShardBadFormat)
	passert.Equals(s, beam.ParDo(s, formatStats, out.Stats),
		"shards=2 failed=1 read=6 caption=4 matched=4")
	passert.Empty(s, out.Scores)
	passert.Empty(s, out.Samples)
	ptest.RunAndValidate(t, p)
}

func TestRejectMetric(t *testing.T) {
	for reason, want := range map[string]string{"shard_gzip_bomb": "rejectsShardGzipBomb", "no_caption": "rejectsNoCaption", "invalid_utf8": "rejectsInvalidUtf8"} {
		if got := count.RejectMetric(reason); got != want {
			t.Errorf("%s: metric %q, want %q", reason, got, want)
		}
	}
}

// --overwrite clears a killed run's temporary files from the part
// directories too, so that a glob over a directory reads its parts only.
func TestClearRowOutputsRemovesTemporaries(t *testing.T) {
	dir := t.TempDir()
	left := []string{"rejects/part-a.parquet", "rejects/.tmp-part-b.parquet-1-2", "sample_concepts/part-c.parquet.tmp-3-4", "rejects/keep.txt"}
	for _, f := range left {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := count.ClearRowOutputs(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range left[:3] {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s is still there", f)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, left[3])); err != nil {
		t.Errorf("a file that is no output was removed: %v", err)
	}
}
