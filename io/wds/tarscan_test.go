package wds

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/conceptfreq/conceptfreq/internal/shareddata"
)

// tarOutcome is what a tar reader makes of an archive: each entry's type,
// name and (for regular files) data, then how it ended.
func tarOutcome(entries []string, err error) string {
	end := "EOF"
	switch {
	case err == nil || err == io.EOF:
	case errors.Is(err, io.ErrUnexpectedEOF):
		end = "unexpected EOF"
	case errors.Is(err, tar.ErrHeader):
		end = "ErrHeader"
	case errors.Is(err, tar.ErrFieldTooLong):
		end = "ErrFieldTooLong"
	default:
		end = "other: " + err.Error()
	}
	return strings.Join(entries, "\n") + "\n=> " + end
}

// viaArchiveTar reads data with archive/tar. sparse is true when an entry
// is sparse (the scanner skips those; archive/tar expands them).
func viaArchiveTar(data []byte) (out string, sparse bool) {
	tr := tar.NewReader(bytes.NewReader(data))
	var entries []string
	for {
		h, err := tr.Next()
		if err != nil {
			return tarOutcome(entries, err), false
		}
		if h.Typeflag == tar.TypeGNUSparse {
			return "", true
		}
		for k := range h.PAXRecords {
			if strings.HasPrefix(k, "GNU.sparse.") {
				return "", true
			}
		}
		e := fmt.Sprintf("%c %q", h.Typeflag, h.Name)
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				return tarOutcome(append(entries, e+" (cut)"), err), false
			}
			e += fmt.Sprintf(" %d bytes %x", len(b), sha256.Sum256(b))
		}
		entries = append(entries, e)
	}
}

func viaScanner(data []byte) string {
	ts := newTarScanner(bufio.NewReaderSize(bytes.NewReader(data), 4096))
	var entries []string
	for {
		h, err := ts.next()
		if err != nil {
			return tarOutcome(entries, err)
		}
		e := fmt.Sprintf("%c %q", h.typeflag, h.name)
		if h.typeflag == tar.TypeReg {
			if h.size > int64(len(data)) {
				return tarOutcome(append(entries, e+" (cut)"), io.ErrUnexpectedEOF) // no such member fits the input
			}
			b := make([]byte, h.size)
			if _, err := ts.read(b); err != nil {
				return tarOutcome(append(entries, e+" (cut)"), err)
			}
			e += fmt.Sprintf(" %d bytes %x", len(b), sha256.Sum256(b))
		}
		entries = append(entries, e)
	}
}

// seedTars are archives in every format archive/tar writes, with long
// names, prefixes, PAX records, links, directories and global headers.
func seedTars(t testing.TB) [][]byte {
	var out [][]byte
	long := strings.Repeat("d/", 70) + "000.txt"
	for _, format := range []tar.Format{tar.FormatUSTAR, tar.FormatPAX, tar.FormatGNU} {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		hs := []*tar.Header{
			{Name: "dir/", Typeflag: tar.TypeDir, Mode: 0o755},
			{Name: "dir/000.txt", Typeflag: tar.TypeReg, Size: 5, Mode: 0o644},
			{Name: "dir/000.jpg", Typeflag: tar.TypeReg, Size: 700, Mode: 0o644, ModTime: time.Unix(1700000000, 0)},
			{Name: "dir/link", Typeflag: tar.TypeSymlink, Linkname: "000.txt"},
			{Name: "dir/001.txt", Typeflag: tar.TypeReg, Size: 0},
		}
		if format != tar.FormatUSTAR {
			hs = append(hs, &tar.Header{Name: long, Typeflag: tar.TypeReg, Size: 3})
		} else {
			hs = append(hs, &tar.Header{Name: strings.Repeat("p", 120) + "/000.txt", Typeflag: tar.TypeReg, Size: 3})
		}
		if format == tar.FormatPAX {
			hs = append(hs, &tar.Header{Name: "g", Typeflag: tar.TypeXGlobalHeader, PAXRecords: map[string]string{"comment": "x"}},
				&tar.Header{Name: "dir/002.txt", Typeflag: tar.TypeReg, Size: 2, PAXRecords: map[string]string{"comment": "hé", "mtime": "1.5"}})
		}
		for i, h := range hs {
			h.Format = format
			if err := tw.WriteHeader(h); err != nil {
				t.Fatalf("%v %s: %v", format, h.Name, err)
			}
			if h.Typeflag == tar.TypeReg {
				if _, err := tw.Write(bytes.Repeat([]byte{byte('a' + i)}, int(h.Size))); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		out = append(out, b.Bytes())
	}
	for _, f := range []string{"../../testdata/shards/laion-00000.tar", shareddata.Path(t, "webdataset-shards/compressed.tar"),
		shareddata.Path(t, "webdataset-shards/testgz.tar")} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestScannerMatchesArchiveTar holds the scanner to archive/tar on
// archives of every format and on thousands of damaged copies of them:
// the same entries, names and bytes, and the same kind of ending.
func TestScannerMatchesArchiveTar(t *testing.T) {
	seeds := seedTars(t)
	r := rand.New(rand.NewPCG(3, 4))
	checked, differ := 0, 0
	check := func(label string, data []byte) {
		want, sparse := viaArchiveTar(data)
		if sparse {
			return
		}
		checked++
		if got := viaScanner(data); got != want {
			if differ++; differ <= 3 {
				t.Errorf("%s: scanner\n%.2000s\narchive/tar\n%.2000s", label, got, want)
			}
		}
	}
	for i, s := range seeds {
		check(fmt.Sprintf("seed %d", i), s)
		n := 3000
		if len(s) > 1<<20 {
			n = 300
		}
		for k := 0; k < n; k++ {
			d := bytes.Clone(s[:min(len(s), 64<<10)])
			switch k % 4 {
			case 0: // cut anywhere
				d = d[:r.IntN(len(d)+1)]
			case 1, 2: // flip bytes in the first headers
				for j := 0; j < 1+r.IntN(4); j++ {
					p := r.IntN(min(len(d), 4096))
					d[p] = byte(r.IntN(256))
				}
			case 3: // a digit or a space or NUL in a numeric field or the magic
				p := 100 + r.IntN(265-100)
				d[p] = "0123456789 \x00\x80\xff"[r.IntN(14)]
			}
			check(fmt.Sprintf("seed %d mutation %d", i, k), d)
		}
	}
	t.Logf("%d archives compared, %d differ", checked, differ)
	if checked < 5000 {
		t.Errorf("only %d archives compared", checked)
	}
}

func FuzzScanner(f *testing.F) {
	for _, s := range seedTars(f) {
		f.Add(s[:min(len(s), 16<<10)])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want, sparse := viaArchiveTar(data)
		if sparse {
			t.Skip("sparse members: the scanner skips them, archive/tar expands them")
		}
		if got := viaScanner(data); got != want {
			t.Fatalf("scanner\n%s\narchive/tar\n%s", got, want)
		}
	})
}

func TestHeaderChecksums(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for k := 0; k < 2000; k++ {
		var b [512]byte
		for i := range b {
			if k%2 == 0 {
				b[i] = byte(r.IntN(256))
			} else {
				b[i] = byte(r.IntN(128))
			}
		}
		var u, s int64
		for i, c := range b {
			if i >= 148 && i < 156 {
				c = ' '
			}
			u += int64(c)
			s += int64(int8(c))
		}
		gu, gs := headerChecksums(b[:])
		if gu != u || gs != s {
			t.Fatalf("block %d: got %d, %d, want %d, %d", k, gu, gs, u, s)
		}
	}
}
