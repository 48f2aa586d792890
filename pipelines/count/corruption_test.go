package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/conceptfreq/conceptfreq/io/shard"
	"github.com/conceptfreq/conceptfreq/transforms/count"
)

type member struct {
	name string
	data []byte
}

// rawTar writes members as they are, in order (names may be anything,
// "../" included), optionally gzipped.
func rawTar(t *testing.T, gz bool, members ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	var zw *gzip.Writer
	var w interface{ Write([]byte) (int, error) } = &buf
	if gz {
		zw = gzip.NewWriter(&buf)
		w = zw
	}
	tw := tar.NewWriter(w)
	for _, m := range members {
		if err := tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		zw.Close()
	}
	return buf.Bytes()
}

func txt(key, caption string) member { return member{key + ".txt", []byte(caption)} }

// bombShard is a .tar.gz of about 600 kB (deflate's limit is about
// 1,032:1) whose one member inflates to 600 MiB of zeros.
func bombShard(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	const size = 600 << 20
	if err := tw.WriteHeader(&tar.Header{Name: "bomb/000.jpg", Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for i := 0; i < size>>20; i++ {
		tw.Write(zeros)
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// A corruption suite over good and damaged shards, through the whole
// pipeline: the job completes, every damaged shard or sample has its exact
// reason, and the counts are those of a run over the good shards plus a
// clean shard of exactly the samples that lie wholly before each damage.
func TestCorruptionSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 600 MiB gzip bomb")
	}
	good, _, v := plantedDataset(t, 2, 300, false)
	dir := t.TempDir()
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The samples the damaged shards must still count, also written as
	// one clean shard for the reference run.
	var survivors []member
	keep := func(ms ...member) []member { survivors = append(survivors, ms...); return ms }

	three := func(p string) []member {
		return []member{txt(p+"/1", "a dog on a sofa"), txt(p+"/2", "a red car in the snow"), txt(p+"/3", "two cats and a dog")}
	}
	// Truncated inside sample 3's data (each sample is one 512-byte header
	// and one 512-byte block): 1 and 2 count, 3 is cut.
	m := three("cutdata")
	keep(m[0], m[1])
	write("cut-member.tar", rawTar(t, false, m...)[:2*1024+512+3])
	// Truncated at a block boundary, inside sample 3's header.
	m = three("cuthdr")
	keep(m[0], m[1])
	write("cut-header.tar", rawTar(t, false, m...)[:2*1024+200])
	// Garbage after a valid prefix of two samples.
	m = three("garbage")
	keep(m[0], m[1])
	prefix := rawTar(t, false, m...)[:2*1024]
	write("garbage.tar", append(prefix, bytes.Repeat([]byte("garbage!"), 200)...))
	// A bad header checksum in sample 2: its name cannot be trusted, so
	// sample 1, which could have had more members, is a sample_truncated
	// reject (the README's rule), and 3 is never reached.
	m = three("checksum")
	b := rawTar(t, false, m...)
	b[1024+148] ^= 0x55
	write("checksum.tar", b)
	write("not-a-tar.tar", []byte("this is a text file that only has a .tar name\n"))
	write("empty.tar", nil)
	// A gzip shard whose deflate stream is broken from the start, and one
	// whose gzip header is broken.
	gz := rawTar(t, true, three("gz")...)
	broken := append([]byte(nil), gz...)
	for i := 12; i < 40 && i < len(broken); i++ {
		broken[i] = 0xff
	}
	write("broken-stream.tar.gz", broken)
	badMagic := append([]byte(nil), gz...)
	badMagic[2] = 7 // compression method: not deflate
	write("broken-magic.tar.gz", badMagic)
	write("bomb.tar.gz", bombShard(t))
	// Sample-level damage in an otherwise good shard.
	big := strings.Repeat("dog ", 10<<20/4)
	write("samples.tar", rawTar(t, false,
		keep(txt("s/ok", "a cat on a mat"))[0],
		txt("s/dup", "a dog"), txt("s/dup", "a dog again"),
		member{"s/imageonly.jpg", []byte{0xff, 0xd8, 0xff}},
		keep(txt("s/captiononly", "a horse in a field"))[0],
		txt("s/empty", "   "),
		member{"s/badutf8.txt", []byte{'a', ' ', 0xff, 0xfe, ' ', 'd', 'o', 'g'}},
		txt("s/huge", big),
		member{"../evil/000.txt", []byte("a dog escaping")},
		member{"/abs/000.txt", []byte("a dog at the root")},
		keep(txt("s/last", "a red car"))[0],
	))

	res := runJob(t, "", count.Request{Inputs: []string{good, dir}, Vocabulary: v})
	wantReasons := map[string]int64{
		shard.RejectSampleTruncated: 4, // cutdata/3, cuthdr/3, checksum/1, the bomb's sample
		shard.RejectShardTruncated:  2,
		shard.RejectShardBadFormat:  5,
		shard.RejectShardEmpty:      1,
		shard.RejectShardGzipBomb:   1,
		shard.RejectDuplicateMember: 1,
		shard.RejectNoCaption:       1,
		shard.RejectEmptyCaption:    1,
		shard.RejectInvalidUTF8:     1,
		shard.RejectCaptionTooLarge: 1,
		shard.RejectUnsafePath:      2,
	}
	got := res.stats.Rejects
	// The planted good shards carry their own bad samples (BadEvery).
	ref := t.TempDir()
	if err := os.WriteFile(filepath.Join(ref, "survivors.tar"), rawTar(t, false, survivors...), 0o644); err != nil {
		t.Fatal(err)
	}
	want := runJob(t, "", count.Request{Inputs: []string{good, ref}, Vocabulary: v})
	for r, n := range want.stats.Rejects {
		wantReasons[r] += n
	}
	if !reflect.DeepEqual(got, wantReasons) {
		t.Errorf("rejects by reason:\n got  %v\n want %v", got, wantReasons)
		for _, r := range res.rejects {
			if !strings.HasPrefix(r.Shard, good) {
				t.Logf("  %s %s %s: %s", filepath.Base(r.Shard), r.Key, r.Reason, r.Detail)
			}
		}
	}
	if !reflect.DeepEqual(res.counts, want.counts) {
		for c, n := range want.counts {
			if res.counts[c] != n {
				t.Errorf("concept %s: %d, want %d (good shards + the samples before each damage)", c, res.counts[c], n)
			}
		}
	}
	if res.stats.SamplesWithCaption != want.stats.SamplesWithCaption {
		t.Errorf("samples with a caption: %d, want %d", res.stats.SamplesWithCaption, want.stats.SamplesWithCaption)
	}
	if res.stats.ShardsFailed != 9 {
		t.Errorf("shards failed: %d, want 9", res.stats.ShardsFailed)
	}
}
