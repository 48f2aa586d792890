package wds_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/conceptfreq/conceptfreq/io/wds"
)

const shardDir = "../../testdata"

// readAll drains a reader, returning samples and the terminal error (nil at
// a clean io.EOF).
func readAll(t testing.TB, data []byte, name string) ([]*wds.Sample, error) {
	t.Helper()
	r, err := wds.NewReader(bytes.NewReader(data), name, wds.Options{})
	if err != nil {
		return nil, err
	}
	var out []*wds.Sample
	for {
		s, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, s)
	}
}

func TestRealShards(t *testing.T) {
	tests := []struct {
		file      string
		samples   int
		firstKey  string
		exts      []string
		firstText string // of the txt member, when it has one
	}{
		// webdataset's testgz.tar: 1,000 samples of one gzip-compressed .txt.gz each.
		{"webdataset/testgz.tar", 1000, "71671c5e285c455c892fb565330233ba", []string{"txt"}, ", or more info on the item."},
		// compressed.tar: keys inside a folder, a directory entry first.
		{"webdataset/compressed.tar", 3, "compressed/0001", []string{"txt"}, "hello"},
		// sample.tgz: a gzipped shard of .png + .cls, no captions.
		{"webdataset/sample.tgz", 90, "10", []string{"cls", "png"}, ""},
		// img2dataset-style shard written by pipelines/synth from real LAION captions.
		{"shards/laion-00000.tar", 200, "000000000", []string{"jpg", "json", "txt"}, ""},
		{"shards/laion-00001.tar.gz", 300, "000000000", []string{"jpg", "json", "txt"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(shardDir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			samples, err := readAll(t, data, tt.file)
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if len(samples) != tt.samples {
				t.Fatalf("got %d samples, want %d", len(samples), tt.samples)
			}
			s := samples[0]
			if s.Key != tt.firstKey {
				t.Errorf("first key: got %q, want %q", s.Key, tt.firstKey)
			}
			for _, s := range samples {
				if len(s.Faults) > 0 {
					t.Fatalf("sample %s: unexpected faults %+v", s.Key, s.Faults)
				}
				if len(s.Members) != len(tt.exts) {
					t.Fatalf("sample %s: got members %v, want %v", s.Key, keys(s.Members), tt.exts)
				}
				for _, e := range tt.exts {
					if _, ok := s.Members[e]; !ok {
						t.Fatalf("sample %s: no %q member (have %v)", s.Key, e, keys(s.Members))
					}
				}
			}
			if tt.firstText != "" {
				if got := strings.TrimSpace(string(s.Members["txt"])); got != tt.firstText {
					t.Errorf("first txt: got %q, want %q", got, tt.firstText)
				}
			}
		})
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestSplitName(t *testing.T) {
	tests := []struct {
		name, key, ext string
		ok             bool
	}{
		{"000123.jpg", "000123", "jpg", true},
		{"a/b/000123.seg.png", "a/b/000123", "seg.png", true},
		{"./x/000.txt.gz", "x/000", "txt.gz", true},
		{"dir/", "", "", false},
		{"noext", "", "", false},
		{".hidden.txt", "", "", false},
		{"a/._000.jpg", "", "", false},
		{"__MACOSX/a/000.jpg", "", "", false},
		{"a/.git/000.txt", "", "", false},
		{"trailingdot.", "", "", false},
	}
	for _, tt := range tests {
		key, ext, ok := wds.SplitName(tt.name)
		if key != tt.key || ext != tt.ext || ok != tt.ok {
			t.Errorf("SplitName(%q) = %q, %q, %v; want %q, %q, %v", tt.name, key, ext, ok, tt.key, tt.ext, tt.ok)
		}
	}
}

type member struct {
	name string
	data []byte
	typ  byte
}

func makeTar(t testing.TB, format tar.Format, members []member) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, m := range members {
		typ := m.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: m.name, Typeflag: typ, Mode: 0o644, Size: int64(len(m.data)), Format: format}
		if typ != tar.TypeReg {
			h.Size = 0
		}
		if typ == tar.TypeSymlink {
			h.Linkname = "target"
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write(m.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gz(t testing.TB, data []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestGrouping(t *testing.T) {
	long := strings.Repeat("d", 120) + "/000001" // needs a PAX or GNU long name
	for _, format := range []tar.Format{tar.FormatPAX, tar.FormatGNU, tar.FormatUSTAR} {
		t.Run(format.String(), func(t *testing.T) {
			ms := []member{
				{name: "shard/", typ: tar.TypeDir},
				{name: "shard/000000.jpg", data: []byte("jpegbytes")},
				{name: "shard/000000.txt.gz", data: gz(t, []byte("  a dog  \n"))},
				{name: "shard/000000.seg.png", data: []byte("png")},
				{name: "shard/._000000.jpg", data: []byte("appledouble")},
				{name: "__MACOSX/shard/000001.txt", data: []byte("junk")},
				{name: "shard/link.txt", typ: tar.TypeSymlink},
				{name: "shard/000001.txt", data: []byte("a cat")},
				{name: "shard/000001.txt", data: []byte("again")},              // duplicate
				{name: "shard/000002.txt.gz", data: []byte("not gzip at all")}, // corrupt
			}
			if format != tar.FormatUSTAR {
				ms = append(ms, member{name: long + ".txt", data: []byte("long name")})
			}
			samples, err := readAll(t, makeTar(t, format, ms), "mem.tar")
			if err != nil {
				t.Fatal(err)
			}
			want := 3
			if format != tar.FormatUSTAR {
				want = 4
			}
			if len(samples) != want {
				t.Fatalf("got %d samples, want %d", len(samples), want)
			}
			s0 := samples[0]
			if s0.Key != "shard/000000" || string(s0.Members["txt"]) != "  a dog  \n" || string(s0.Members["seg.png"]) != "png" || len(s0.Members) != 3 {
				t.Errorf("sample 0: got key %q members %v", s0.Key, keys(s0.Members))
			}
			s1 := samples[1]
			if s1.Key != "shard/000001" || string(s1.Members["txt"]) != "a cat" {
				t.Errorf("sample 1: got key %q txt %q", s1.Key, s1.Members["txt"])
			}
			if len(s1.Faults) != 1 || s1.Faults[0].Reason != wds.FaultDuplicateMember {
				t.Errorf("sample 1: got faults %+v, want one %s", s1.Faults, wds.FaultDuplicateMember)
			}
			s2 := samples[2]
			if len(s2.Faults) != 1 || s2.Faults[0].Reason != wds.FaultCorruptMember || s2.Faults[0].Member != "shard/000002.txt.gz" {
				t.Errorf("sample 2: got faults %+v, want one %s naming the member", s2.Faults, wds.FaultCorruptMember)
			}
			if format != tar.FormatUSTAR && samples[3].Key != long {
				t.Errorf("long name: got key %q", samples[3].Key)
			}
		})
	}
}

func TestWholeShardGzipAndWriterRoundTrip(t *testing.T) {
	for _, gzipped := range []bool{false, true} {
		var b bytes.Buffer
		w := wds.NewWriter(&b, gzipped)
		for _, k := range []string{"000000000", "000000001"} {
			if err := w.WriteSample(k, map[string][]byte{"txt": []byte("caption " + k), "jpg": {1, 2, 3}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		samples, err := readAll(t, b.Bytes(), "rt")
		if err != nil {
			t.Fatal(err)
		}
		if len(samples) != 2 || string(samples[1].Members["txt"]) != "caption 000000001" {
			t.Fatalf("gzip=%v: got %d samples", gzipped, len(samples))
		}
	}
}

func TestMemberTooLarge(t *testing.T) {
	data := makeTar(t, tar.FormatPAX, []member{{name: "0.jpg", data: make([]byte, 100)}, {name: "0.txt", data: []byte("ok")}})
	r, err := wds.NewReader(bytes.NewReader(data), "big.tar", wds.Options{MaxMemberSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Faults) != 1 || s.Faults[0].Reason != wds.FaultMemberTooLarge {
		t.Fatalf("got faults %+v, want %s", s.Faults, wds.FaultMemberTooLarge)
	}
	if string(s.Members["txt"]) != "ok" {
		t.Errorf("txt after skipped member: got %q", s.Members["txt"])
	}
}

func TestNotATar(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":       nil,
		"text":        []byte(strings.Repeat("this is not a tar file\n", 100)),
		"badgzip":     {0x1f, 0x8b, 0, 0, 0},
		"gzippedtext": gz(t, []byte(strings.Repeat("plain text, no tar\n", 60))),
	} {
		_, err := readAll(t, data, name)
		if err == nil {
			t.Errorf("%s: got no error", name)
			continue
		}
		if !errors.Is(err, wds.ErrFormat) && !errors.Is(err, wds.ErrTruncated) {
			t.Errorf("%s: got %v, want ErrFormat or ErrTruncated", name, err)
		}
		if !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %q does not name the shard", name, err)
		}
	}
}

// contentEnd is the offset just past the last member's padded data: any cut
// before it loses data.
func contentEnd(t testing.TB, data []byte) int64 {
	t.Helper()
	var end int64
	cr := &countReader{r: bytes.NewReader(data)}
	tr := tar.NewReader(cr)
	for {
		_, err := tr.Next()
		if err == io.EOF {
			return end
		}
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, tr)
		end = (cr.n + 511) / 512 * 512
	}
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestTruncation(t *testing.T) {
	for _, file := range []string{"webdataset/compressed.tar", "shards/laion-00000.tar", "webdataset/sample.tgz", "shards/laion-00001.tar.gz"} {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(shardDir, file))
			if err != nil {
				t.Fatal(err)
			}
			limit := int64(len(data))
			raw := data
			if strings.HasSuffix(file, "gz") {
				zr, err := gzip.NewReader(bytes.NewReader(data))
				if err != nil {
					t.Fatal(err)
				}
				raw, _ = io.ReadAll(zr)
				// A cut in the gzip stream before its last 64 bytes loses tar
				// content or its end marker.
				limit = int64(len(data)) - 64
			} else {
				limit = contentEnd(t, raw) + 512 // the first end-marker block too
			}
			step := limit / 400
			if step < 1 {
				step = 1
			}
			cuts := 0
			for off := int64(0); off < limit; off += step {
				cuts++
				_, err := readAll(t, data[:off], file)
				if err == nil {
					t.Fatalf("cut at %d of %d: got no error", off, len(data))
				}
				if !errors.Is(err, wds.ErrTruncated) && !errors.Is(err, wds.ErrFormat) {
					t.Fatalf("cut at %d: got %v, want ErrTruncated or ErrFormat", off, err)
				}
			}
			// Block boundaries are where a naive reader sees a clean EOF.
			for off := int64(512); off < limit && !strings.HasSuffix(file, "gz"); off += 512 {
				if _, err := readAll(t, data[:off], file); !errors.Is(err, wds.ErrTruncated) {
					t.Fatalf("cut at block boundary %d: got %v, want ErrTruncated", off, err)
				}
			}
			if cuts < 50 {
				t.Fatalf("only %d cuts tried", cuts)
			}
		})
	}
}

func TestStickyError(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(shardDir, "webdataset/compressed.tar"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := wds.NewReader(bytes.NewReader(data[:700]), "cut.tar", wds.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var first error
	for i := 0; i < 10 && first == nil; i++ {
		_, first = r.Next()
	}
	if first == nil || first == io.EOF {
		t.Fatalf("got %v, want a truncation error", first)
	}
	if _, again := r.Next(); again != first {
		t.Fatalf("second call: got %v, want the same error %v", again, first)
	}
}

func FuzzReader(f *testing.F) {
	for _, file := range []string{"webdataset/compressed.tar", "webdataset/sample.tgz", "shards/laion-00001.tar.gz"} {
		data, err := os.ReadFile(filepath.Join(shardDir, file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(makeTar(f, tar.FormatGNU, []member{{name: "a/0.txt.gz", data: gz(f, []byte("x"))}, {name: "a/0.jpg", data: []byte{1}}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := wds.NewReader(bytes.NewReader(data), "fuzz", wds.Options{MaxMemberSize: 64 << 10})
		if err != nil {
			return
		}
		for i := 0; ; i++ {
			s, err := r.Next()
			if err != nil {
				if err != io.EOF && !errors.Is(err, wds.ErrTruncated) && !errors.Is(err, wds.ErrFormat) && !strings.HasPrefix(err.Error(), "wds: ") {
					t.Fatalf("error without package context: %v", err)
				}
				return
			}
			if s.Key == "" {
				t.Fatal("sample with empty key")
			}
			if i > len(data) {
				t.Fatal("more samples than input bytes")
			}
		}
	})
}

// layout is where each sample's members lie in a plain tar written here.
type layout struct {
	keys        []string
	firstHeader []int64 // offset of the sample's first member header
	dataEnd     []int64 // end of the sample's last member data
}

func layoutTar(t *testing.T, n int) ([]byte, layout) {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	var l layout
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("%09d", i)
		l.keys = append(l.keys, key)
		for j, ext := range []string{"jpg", "json", "txt"} {
			if err := tw.Flush(); err != nil {
				t.Fatal(err)
			}
			if j == 0 {
				l.firstHeader = append(l.firstHeader, int64(b.Len()))
			}
			body := bytes.Repeat([]byte{byte('a' + i%26)}, 300+97*i+13*j)
			if err := tw.WriteHeader(&tar.Header{Name: key + "." + ext, Mode: 0o644, Size: int64(len(body)), Format: tar.FormatUSTAR}); err != nil {
				t.Fatal(err)
			}
			if _, err := tw.Write(body); err != nil {
				t.Fatal(err)
			}
			if j == 2 {
				l.dataEnd = append(l.dataEnd, int64(b.Len()))
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), l
}

// A cut shard loses nothing: at every cut point, the samples that lie wholly
// before it are returned whole, the sample the cut falls in is returned Cut
// (once its header's name is readable), then the error. Expectations come
// from the tar's own layout, not from the reader. The documented limit: the
// first sample of a shard cut right after one of its members (before the
// next header's name) cannot be told from a whole one and counts as cut.
func TestTruncationKeepsWholeSamples(t *testing.T) {
	data, l := layoutTar(t, 6)
	end := l.dataEnd[len(l.dataEnd)-1]
	var cuts []int64
	for off := int64(1); off < end+512; off += 37 {
		cuts = append(cuts, off)
	}
	for off := int64(512); off < end+512; off += 512 {
		cuts = append(cuts, off)
	}
	cuts = append(cuts, l.firstHeader...)
	cuts = append(cuts, l.dataEnd...)
	for _, c := range cuts {
		var wantWhole, wantCut []string
		for i, k := range l.keys {
			nextName := end + 100 // past the last sample: the end marker, no name
			if i+1 < len(l.keys) {
				nextName = l.firstHeader[i+1] + 100
			}
			switch {
			case l.dataEnd[i] <= c && (i > 0 || c >= nextName):
				wantWhole = append(wantWhole, k)
			case l.dataEnd[i] <= c: // the first sample, next name unread
				wantCut = append(wantCut, k)
			case c >= l.firstHeader[i]+100:
				wantCut = append(wantCut, k)
			}
		}
		samples, err := readAll(t, data[:c], "layout.tar")
		if err == nil || !errors.Is(err, wds.ErrTruncated) {
			t.Fatalf("cut at %d: got %v, want ErrTruncated", c, err)
		}
		var gotWhole, gotCut []string
		for _, s := range samples {
			if s.Cut {
				gotCut = append(gotCut, s.Key)
			} else {
				gotWhole = append(gotWhole, s.Key)
				if len(s.Members) != 3 {
					t.Errorf("cut at %d: whole sample %s has %d members", c, s.Key, len(s.Members))
				}
			}
		}
		if !reflect.DeepEqual(gotWhole, wantWhole) || !reflect.DeepEqual(gotCut, wantCut) {
			t.Errorf("cut at %d: whole %v cut %v; want whole %v cut %v", c, gotWhole, gotCut, wantWhole, wantCut)
		}
	}
}

// TestKeepSkipsMembers: members Keep rejects are listed with nil bytes and
// not read; the kept ones are as without Keep, on a real shard too.
func TestKeepSkipsMembers(t *testing.T) {
	data := makeTar(t, tar.FormatPAX, []member{
		{name: "a/0.txt", data: []byte("a dog")}, {name: "a/0.jpg", data: bytes.Repeat([]byte{7}, 3000)},
		{name: "a/0.json", data: []byte(`{"caption":"x"}`)},
		{name: "a/1.txt", data: []byte("a cat")}, {name: "a/1.jpg.gz", data: []byte("not gzip")},
		{name: "a/2.txt", data: []byte("one")}, {name: "a/2.jpg", data: []byte{1}}, {name: "a/2.jpg", data: []byte{2}},
	})
	keep := func(ext string) bool { return ext == "txt" || ext == "json" }
	read := func(data []byte, opts wds.Options) []*wds.Sample {
		r, err := wds.NewReader(bytes.NewReader(data), "keep.tar", opts)
		if err != nil {
			t.Fatal(err)
		}
		var out []*wds.Sample
		for {
			s, err := r.Next()
			if err == io.EOF {
				return out
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
	}
	got := read(data, wds.Options{Keep: keep})
	if len(got) != 3 {
		t.Fatalf("got %d samples, want 3", len(got))
	}
	if b, ok := got[0].Members["jpg"]; !ok || b != nil {
		t.Errorf("skipped jpg: present %v, bytes %d; want listed with nil bytes", ok, len(b))
	}
	if string(got[0].Members["txt"]) != "a dog" || string(got[0].Members["json"]) != `{"caption":"x"}` {
		t.Errorf("kept members: %q", got[0].Members)
	}
	if len(got[1].Faults) != 0 {
		t.Errorf("a skipped .jpg.gz is not decompressed, so it is no fault: %+v", got[1].Faults)
	}
	if len(got[2].Faults) != 1 || got[2].Faults[0].Reason != wds.FaultDuplicateMember {
		t.Errorf("a duplicate skipped member is still a fault: %+v", got[2].Faults)
	}
	all := read(data, wds.Options{})
	if len(all[1].Faults) != 1 || all[1].Faults[0].Reason != wds.FaultCorruptMember {
		t.Errorf("without Keep the corrupt .jpg.gz is a fault: %+v", all[1].Faults)
	}
	skippedBytes := 0
	for _, file := range []string{"shards/laion-00000.tar", "shards/laion-00001.tar.gz"} {
		real, err := os.ReadFile(filepath.Join(shardDir, file))
		if err != nil {
			t.Fatal(err)
		}
		a, b := read(real, wds.Options{Keep: keep}), read(real, wds.Options{})
		if len(a) != len(b) || len(a) == 0 {
			t.Fatalf("%s: %d samples with Keep, %d without", file, len(a), len(b))
		}
		for i := range a {
			if a[i].Key != b[i].Key || !bytes.Equal(a[i].Members["txt"], b[i].Members["txt"]) || !reflect.DeepEqual(keys(a[i].Members), keys(b[i].Members)) {
				t.Fatalf("%s sample %d: with Keep %s %v, without %s %v", file, i, a[i].Key, keys(a[i].Members), b[i].Key, keys(b[i].Members))
			}
			if a[i].Members["jpg"] != nil {
				t.Fatalf("%s sample %d: jpg read with Keep (%d bytes)", file, i, len(a[i].Members["jpg"]))
			}
			skippedBytes += len(b[i].Members["jpg"])
		}
	}
	if skippedBytes == 0 {
		t.Error("the real shards' images were empty: nothing was skipped")
	}
}
