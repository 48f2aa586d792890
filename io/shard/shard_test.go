package shard_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/conceptfreq/conceptfreq/internal/pqtest"
	"github.com/conceptfreq/conceptfreq/internal/shareddata"
	"github.com/conceptfreq/conceptfreq/io/shard"
	"github.com/conceptfreq/conceptfreq/io/wds"
)

// sample is what every source must agree on.
type sample struct {
	Key, Caption, Reject string
}

// captions are the samples every format holds: plain, padded, with a BOM,
// unicode, empty and blank captions.
var captions = []struct{ key, text string }{
	{"000000000", "a dog on a beach"},
	{"000000001", "  a red car \n"},
	{"000000002", "\ufeffcafé au lait"},
	{"000000003", ""},
	{"000000004", " \t "},
	{"000000005", "Zürich at night, 東京"},
}

var want = []sample{
	{"000000000", "a dog on a beach", ""},
	{"000000001", "a red car", ""},
	{"000000002", "café au lait", ""},
	{"000000003", "", shard.RejectEmptyCaption},
	{"000000004", "", shard.RejectEmptyCaption},
	{"000000005", "Zürich at night, 東京", ""},
}

func wdsShard(t *testing.T, gzipped bool, member func(text string) (string, []byte)) []byte {
	t.Helper()
	var b bytes.Buffer
	w := wds.NewWriter(&b, gzipped)
	for _, c := range captions {
		ext, data := member(c.text)
		if err := w.WriteSample(c.key, map[string][]byte{ext: data, "jpg": {0xff, 0xd8}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func parquetShard(t *testing.T) []byte {
	schema := arrow.NewSchema([]arrow.Field{{Name: "key", Type: arrow.BinaryTypes.String}, {Name: "caption", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	return pqtest.Write(t, schema, func(b *array.RecordBuilder) {
		for _, c := range captions {
			b.Field(0).(*array.StringBuilder).Append(c.key)
			b.Field(1).(*array.StringBuilder).Append(c.text)
		}
	})
}

func readSource(t *testing.T, data []byte, name string) []sample {
	t.Helper()
	src, err := shard.Open(context.Background(), bytes.NewReader(data), name, shard.Options{})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer src.Close()
	var got []sample
	for {
		s, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if s.Reject != "" && s.Detail == "" {
			t.Errorf("%s: key %s rejected without detail", name, s.Key)
		}
		got = append(got, sample{s.Key, s.Caption, s.Reject})
	}
	if _, err := src.Next(); err != io.EOF {
		t.Errorf("%s: Next after the end: got %v, want io.EOF again", name, err)
	}
	return got
}

// Every source yields the same samples, captions and rejects for the same
// content, whether the format comes from the name or from sniffing.
func TestSourcesConformance(t *testing.T) {
	txt := func(s string) (string, []byte) { return "txt", []byte(s) }
	jsn := func(s string) (string, []byte) {
		b, _ := json(s)
		return "json", b
	}
	inputs := map[string][]byte{
		"shard.tar":        wdsShard(t, false, txt),
		"shard.tar.gz":     wdsShard(t, true, txt),
		"shard.tgz":        wdsShard(t, true, txt),
		"json.tar":         wdsShard(t, false, jsn),
		"captions.parquet": parquetShard(t),
	}
	for name, data := range inputs {
		for _, as := range []string{name, "sniffed-" + strings.TrimSuffix(strings.TrimSuffix(name, ".gz"), ".parquet")} {
			if strings.HasSuffix(name, ".gz") || strings.HasSuffix(name, ".tgz") {
				as = name // a gzip stream is recognised by its name
			}
			t.Run(as, func(t *testing.T) {
				if got := readSource(t, data, as); !reflect.DeepEqual(got, want) {
					t.Errorf("got  %+v\nwant %+v", got, want)
				}
			})
		}
	}
}

func json(s string) ([]byte, error) {
	var b strings.Builder
	b.WriteString(`{"caption": "`)
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteString(`\` + string(r))
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteString(`"}`)
	return []byte(b.String()), nil
}

// Errors that end a shard are classified by Reason.
func TestReasons(t *testing.T) {
	good := wdsShard(t, false, func(s string) (string, []byte) { return "txt", []byte(s) })
	noCol := pqtest.Write(t, arrow.NewSchema([]arrow.Field{{Name: "url", Type: arrow.BinaryTypes.String}}, nil), func(b *array.RecordBuilder) {
		b.Field(0).(*array.StringBuilder).Append("http://x")
	})
	var tarTrunc bytes.Buffer
	tw := tar.NewWriter(&tarTrunc)
	tw.WriteHeader(&tar.Header{Name: "k.txt", Size: 5, Mode: 0o644})
	tw.Write([]byte("hello"))
	tw.Flush()
	tests := []struct {
		name, path string
		data       []byte
		want       string
	}{
		{"cut in a member", "a.tar", good[:700], shard.RejectShardTruncated},
		{"no end marker", "b.tar", tarTrunc.Bytes(), shard.RejectShardTruncated},
		{"empty file", "c.tar", nil, shard.RejectShardEmpty},
		{"empty parquet", "c.parquet", nil, shard.RejectShardEmpty},
		{"not a tar", "d.tar", bytes.Repeat([]byte("not a tar at all "), 64), shard.RejectShardBadFormat},
		{"bad gzip header", "e.tar.gz", []byte("\x1f\x8bXXXXXXXXXXXXXXXX"), shard.RejectShardBadFormat},
		{"short plain file named tar.gz", "e2.tar.gz", []byte("plain text, not gzip"), shard.RejectShardTruncated},
		{"parquet garbage", "f.parquet", []byte("PAR1 but nothing else"), shard.RejectShardBadFormat},
		{"parquet without caption column", "g.parquet", noCol, shard.RejectShardNoColumn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := shard.Open(context.Background(), bytes.NewReader(tt.data), tt.path, shard.Options{})
			for err == nil {
				_, err = src.Next()
			}
			if err == io.EOF {
				t.Fatalf("read to the end without an error, want %s", tt.want)
			}
			if got := shard.Reason(err); got != tt.want {
				t.Errorf("Reason(%v) = %s, want %s", err, got, tt.want)
			}
			if !strings.Contains(err.Error(), tt.path) {
				t.Errorf("error %q does not name the shard %s", err, tt.path)
			}
		})
	}
	if got := shard.Reason(errors.New("disk on fire")); got != shard.RejectShardUnreadable {
		t.Errorf("other errors: got %s, want %s", got, shard.RejectShardUnreadable)
	}
}

func TestCaptionOf(t *testing.T) {
	tests := []struct {
		name    string
		members map[string][]byte
		faults  []wds.Fault
		text    string
		reason  string
	}{
		{"txt", map[string][]byte{"txt": []byte("  a dog \n"), "json": []byte(`{"caption":"other"}`)}, nil, "a dog", ""},
		{"json fallback", map[string][]byte{"json": []byte(`{"caption":" a cat "}`)}, nil, "a cat", ""},
		{"json null caption", map[string][]byte{"json": []byte(`{"caption":null}`)}, nil, "", shard.RejectNoCaption},
		{"json without caption", map[string][]byte{"json": []byte(`{"url":"x"}`), "jpg": {1}}, nil, "", shard.RejectNoCaption},
		{"json caption not a string", map[string][]byte{"json": []byte(`{"caption":3}`)}, nil, "", shard.RejectInvalidJSON},
		{"bad json", map[string][]byte{"json": []byte(`{"caption":`)}, nil, "", shard.RejectInvalidJSON},
		{"no caption members", map[string][]byte{"png": {1}, "cls": {1}}, nil, "", shard.RejectNoCaption},
		{"empty", map[string][]byte{"txt": []byte(" \t\n")}, nil, "", shard.RejectEmptyCaption},
		{"invalid utf8", map[string][]byte{"txt": []byte("caf\xe9")}, nil, "", shard.RejectInvalidUTF8},
		{"bom", map[string][]byte{"txt": []byte("\ufeffhello")}, nil, "hello", ""},
		{"fault", map[string][]byte{"txt": []byte("fine")}, []wds.Fault{{Member: "k.jpg.gz", Reason: wds.FaultCorruptMember, Detail: "gzip: bad"}}, "", shard.RejectCorruptMember},
	}
	for _, tt := range tests {
		text, reason, detail := shard.CaptionOf(&wds.Sample{Key: "k", Members: tt.members, Faults: tt.faults}, "txt")
		if text != tt.text || reason != tt.reason {
			t.Errorf("%s: got %q, %q; want %q, %q", tt.name, text, reason, tt.text, tt.reason)
		}
		if reason != "" && detail == "" {
			t.Errorf("%s: reject without detail", tt.name)
		}
	}
}

// A Parquet shard is read by row group: in place from a local file, or
// through a temporary spool from a stream that cannot seek (gs://); both
// give the same samples, and an empty stream is shard_empty.
func TestParquetStreamedBothWays(t *testing.T) {
	ctx := context.Background()
	const path = "../../testdata/captions/laion_test_1000.parquet"
	read := func(r io.Reader) []shard.Sample {
		src, err := shard.Open(ctx, r, path, shard.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		var out []shard.Sample
		for {
			s, err := src.Next()
			if err == io.EOF {
				return out
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, *s)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	direct := read(f)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	spooled := read(io.NopCloser(bytes.NewReader(b))) // no ReadAt: spooled
	if len(direct) != 1000 || !reflect.DeepEqual(direct, spooled) {
		t.Errorf("direct %d samples, spooled %d; equal %v", len(direct), len(spooled), reflect.DeepEqual(direct, spooled))
	}
	if _, err := shard.Open(ctx, io.NopCloser(strings.NewReader("")), "empty.parquet", shard.Options{}); shard.Reason(err) != shard.RejectShardEmpty {
		t.Errorf("an empty Parquet stream: %v (reason %s), want shard_empty", err, shard.Reason(err))
	}
}

// A caption member is inflated no further than the caption limit: four
// .txt.gz members of 64 MiB each (a shard of a few hundred kB) are
// caption_too_large rejects read with a few MiB of allocations, not 256.
func TestCaptionMemberBombBounded(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(make([]byte, 64<<20))
	zw.Close()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for i := 0; i < 4; i++ {
		name := fmt.Sprintf("%03d.txt.gz", i)
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(gz.Len()), Typeflag: tar.TypeReg})
		tw.Write(gz.Bytes())
	}
	tw.Close()
	open := func(context.Context, string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b.Bytes())), nil
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var reasons []string
	err := shard.ForEach(context.Background(), open, "bomb.tar", shard.Options{TextOnly: true}, func(s *shard.Sample) error {
		reasons = append(reasons, s.Reject)
		return nil
	})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if len(reasons) != 4 || reasons[0] != shard.RejectCaptionTooLarge || reasons[3] != shard.RejectCaptionTooLarge {
		t.Errorf("reasons %v, want 4 × caption_too_large", reasons)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
		t.Errorf("reading allocated %d MiB; a caption member must stop inflating at the 1 MiB caption limit", alloc>>20)
	}
}

// Read buffers come from a pool: shards read at once never share one, a
// closed source gives its buffer back and reads no more, and a shard of a
// few samples does not allocate a fresh 256 KiB buffer.
func TestReadBuffersPooled(t *testing.T) {
	names := []string{"tendata.tar", "sample.tgz", "mpdata.tar", "testgz.tar"}
	var shards [][]byte
	for _, name := range names {
		b, err := os.ReadFile(shareddata.Path(t, "webdataset-shards/"+name))
		if err != nil {
			t.Fatal(err)
		}
		shards = append(shards, b)
	}
	want := make([][]sample, len(shards))
	for i, b := range shards {
		want[i] = readSource(t, b, names[i])
		if len(want[i]) == 0 {
			t.Fatalf("%s: no samples", names[i])
		}
	}
	var wg sync.WaitGroup
	got := make([][][]sample, 8)
	for g := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; round < 5; round++ {
				for i := range shards {
					j := (i + g) % len(shards)
					got[g] = append(got[g], readSource(t, shards[j], names[j]))
				}
			}
		}()
	}
	wg.Wait()
	for g := range got {
		for k, s := range got[g] {
			j := (k%len(shards) + g) % len(shards)
			if !reflect.DeepEqual(s, want[j]) {
				t.Fatalf("reader %d, read %d of %s differs from a lone read", g, k, names[j])
			}
		}
	}

	src, err := shard.Open(context.Background(), bytes.NewReader(shards[0]), names[0], shard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	src.Close()
	if _, err := src.Next(); err == nil {
		t.Error("Next after Close: got a sample, want an error")
	}

	tiny := wdsShard(t, false, func(text string) (string, []byte) { return "txt", []byte(text) })
	const n = 200
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < n; i++ {
		readSource(t, tiny, "tiny.tar")
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / n; per > 128<<10 {
		t.Errorf("a %d-byte shard allocated %d KiB to read; its 256 KiB read buffer should come from the pool", len(tiny), per>>10)
	}
}
