package beamfs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/memfs"

	"github.com/conceptfreq/conceptfreq/io/beamfs"
	"github.com/conceptfreq/conceptfreq/io/paths"
)

func TestJoinAndScheme(t *testing.T) {
	for _, tc := range []struct{ dir, name, want, scheme string }{
		{"out", "a.parquet", "out/a.parquet", "local"},
		{"out/", "a.parquet", "out/a.parquet", "local"},
		{"gs://b/runs/1", "run_stats.json", "gs://b/runs/1/run_stats.json", "gs"},
		{"memfs://x/", "y", "memfs://x/y", "memfs"},
	} {
		if got := paths.Join(tc.dir, tc.name); got != tc.want {
			t.Errorf("Join(%q, %q) = %q, want %q", tc.dir, tc.name, got, tc.want)
		}
		if got := paths.Scheme(tc.dir); got != tc.scheme {
			t.Errorf("Scheme(%q) = %q, want %q", tc.dir, got, tc.scheme)
		}
	}
}

// Write, ReadAll, Clients and List behave the same on the local and the
// in-memory filesystem.
func TestReadWriteListConformance(t *testing.T) {
	ctx := context.Background()
	for _, root := range []string{t.TempDir(), "memfs://files-test"} {
		t.Run(paths.Scheme(root), func(t *testing.T) {
			var want []string
			for i := 0; i < 3; i++ {
				p := paths.Join(root, fmt.Sprintf("d/%05d.tar", i))
				if err := beamfs.WriteBytes(ctx, p, []byte(p)); err != nil {
					t.Fatal(err)
				}
				want = append(want, p)
			}
			got, err := beamfs.List(ctx, paths.Join(root, "d/*.tar"))
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("List: got %v, %v; want %v", got, err, want)
			}
			var c beamfs.Clients
			for _, p := range want {
				b, err := beamfs.ReadAll(ctx, p)
				if err != nil || string(b) != p {
					t.Errorf("ReadAll(%s): got %q, %v", p, b, err)
				}
				b, err = c.ReadAll(ctx, p)
				if err != nil || string(b) != p {
					t.Errorf("Clients.ReadAll(%s): got %q, %v", p, b, err)
				}
			}
			if err := c.Close(); err != nil {
				t.Error(err)
			}
			if _, err := beamfs.ReadAll(ctx, paths.Join(root, "d/missing")); !beamfs.IsNotExist(err) {
				t.Errorf("reading a missing file: got %v, want a not-exist error", err)
			}
		})
	}
}

// A fill error is returned with the path, and the file is not committed as
// complete content.
func TestWriteReportsFillError(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.bin")
	boom := errors.New("boom")
	err := beamfs.Write(context.Background(), p, func(w io.Writer) error { return boom })
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), p) {
		t.Errorf("got %v, want boom naming %s", err, p)
	}
}

func TestExpand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, name := range []string{"b.tar", "a.tar.gz", "c.parquet", "d.tgz", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := beamfs.Expand(ctx, []string{dir, filepath.Join(dir, "*.tar")})
	want := []string{filepath.Join(dir, "a.tar.gz"), filepath.Join(dir, "b.tar"), filepath.Join(dir, "c.parquet"), filepath.Join(dir, "d.tgz")}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("directory + overlapping glob: got %v, %v; want %v (sorted, de-duplicated, no .txt)", got, err, want)
	}
	missing := filepath.Join(dir, "*.nothing")
	if _, err := beamfs.Expand(ctx, []string{dir, missing}); err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "matched no files") {
		t.Errorf("empty glob: got %v, want an error naming %s", err, missing)
	}
	if _, err := beamfs.Expand(ctx, []string{" ", ""}); err == nil || !strings.Contains(err.Error(), "no input") {
		t.Errorf("no patterns: got %v", err)
	}
}

// Brace groups expand as img2dataset names shards: zero-padded numeric
// ranges, lists, several groups multiplied.
func TestBraces(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{"gs://b/laion/{00000..00003}.tar", []string{"gs://b/laion/00000.tar", "gs://b/laion/00001.tar", "gs://b/laion/00002.tar", "gs://b/laion/00003.tar"}},
		{"s/{8..11}.tar", []string{"s/8.tar", "s/9.tar", "s/10.tar", "s/11.tar"}},
		{"s/{0009..0011}.tar", []string{"s/0009.tar", "s/0010.tar", "s/0011.tar"}},
		{"s/{3..1}.tar", []string{"s/3.tar", "s/2.tar", "s/1.tar"}},
		{"{a,b}/{0..1}.{tar,tar.gz}", []string{"a/0.tar", "a/0.tar.gz", "a/1.tar", "a/1.tar.gz", "b/0.tar", "b/0.tar.gz", "b/1.tar", "b/1.tar.gz"}},
		{"plain/*.tar", []string{"plain/*.tar"}},
	} {
		got, err := paths.Braces(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Braces(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	got, err := paths.Braces("gs://b/laion/{00000..41407}.tar")
	if err != nil || len(got) != 41408 || got[41407] != "gs://b/laion/41407.tar" || got[12] != "gs://b/laion/00012.tar" {
		t.Errorf("LAION-400M range: %d names, last %q, %v", len(got), got[len(got)-1], err)
	}
	for in, want := range map[string]string{
		"s/{0..3.tar":         "without '}'",
		"s/0..3}.tar":         "without '{'",
		"s/{a}.tar":           "neither a range",
		"s/{x..3}.tar":        "non-negative integers",
		"s/{{a,b},c}.tar":     "nested",
		"s/{0..99999999}.tar": "more than",
	} {
		if _, err := paths.Braces(in); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), in) {
			t.Errorf("Braces(%q): got %v, want an error naming it and saying %q", in, err, want)
		}
	}
}

// A brace range names files without listing them: present ones come back
// in order, missing ones too (the reader rejects them as shard_missing);
// a glob inside a brace expansion must still match.
func TestExpandBraces(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, name := range []string{"00000.tar", "00001.tar", "00003.tar"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := beamfs.Expand(ctx, []string{filepath.Join(dir, "{00000..00003}.tar")})
	want := []string{filepath.Join(dir, "00000.tar"), filepath.Join(dir, "00001.tar"), filepath.Join(dir, "00002.tar"), filepath.Join(dir, "00003.tar")}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("range: got %v, %v; want %v", got, err, want)
	}
	got, err = beamfs.Expand(ctx, []string{filepath.Join(dir, "{00000,00003}*.tar")})
	if want := []string{filepath.Join(dir, "00000.tar"), filepath.Join(dir, "00003.tar")}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("globs in a list: got %v, %v; want %v", got, err, want)
	}
	bad := filepath.Join(dir, "{00000,00007}*.tar")
	if _, err := beamfs.Expand(ctx, []string{bad}); err == nil || !strings.Contains(err.Error(), "00007*.tar") || !strings.Contains(err.Error(), bad) {
		t.Errorf("a glob of a brace list matching nothing: got %v, want an error naming it and its pattern", err)
	}
}

func TestCheckOutput(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := beamfs.CheckOutput(ctx, dir, false); err != nil {
		t.Errorf("empty dir: %v", err)
	}
	if err := beamfs.CheckOutput(ctx, filepath.Join(dir, "new"), false); err != nil {
		t.Errorf("missing dir: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "x"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := beamfs.CheckOutput(ctx, dir, false); !errors.Is(err, beamfs.ErrNotEmpty) || !strings.Contains(err.Error(), dir) {
		t.Errorf("non-empty dir: got %v, want ErrNotEmpty naming %s", err, dir)
	}
	if err := beamfs.CheckOutput(ctx, dir, true); err != nil {
		t.Errorf("non-empty dir with overwrite: %v", err)
	}
	if err := beamfs.CheckOutput(ctx, "  ", false); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("blank output: got %v", err)
	}
	mem := "memfs://check-output"
	if err := beamfs.CheckOutput(ctx, mem, false); err != nil {
		t.Errorf("empty memfs dir: %v", err)
	}
	if err := beamfs.WriteBytes(ctx, paths.Join(mem, "run_stats.json"), []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if err := beamfs.CheckOutput(ctx, mem, false); !errors.Is(err, beamfs.ErrNotEmpty) {
		t.Errorf("non-empty memfs dir: got %v, want ErrNotEmpty", err)
	}
}

// Outputs are checked at launch: a file is not a directory, and a location
// that cannot be written fails the probe; a probe leaves nothing behind.
func TestOutputFileAndProbe(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	file := filepath.Join(dir, "counts.parquet")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, overwrite := range []bool{false, true} {
		if err := beamfs.CheckOutput(ctx, file, overwrite); err == nil || !strings.Contains(err.Error(), "is a file, not a directory") {
			t.Errorf("overwrite=%v onto a file: got %v", overwrite, err)
		}
	}
	if err := beamfs.Probe(ctx, filepath.Join(file, "sub")); err == nil || !strings.Contains(err.Error(), "is not writable") {
		t.Errorf("probe under a file: got %v", err)
	}
	out := filepath.Join(dir, "out")
	if err := beamfs.Probe(ctx, out); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("the probe left %d files behind", len(entries))
	}
	if err := beamfs.Probe(ctx, "memfs://probe-test"); err != nil {
		t.Errorf("memfs probe: %v", err)
	}
}

// Two runs cannot share an output: the second is refused with a message
// naming the first; a lock whose process died is taken over.
func TestClaim(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "out")
	release, err := beamfs.Claim(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = beamfs.Claim(ctx, dir)
	if !errors.Is(err, beamfs.ErrInUse) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d on", os.Getpid())) {
		t.Errorf("second claim: got %v, want ErrInUse naming pid %d", err, os.Getpid())
	}
	if err := beamfs.CheckOutput(ctx, dir, false); err != nil {
		t.Errorf("the lock makes the output look used: %v", err)
	}
	release()
	if _, err := os.Stat(filepath.Join(dir, beamfs.LockName)); !os.IsNotExist(err) {
		t.Errorf("release left the lock: %v", err)
	}
	host, _ := os.Hostname()
	stale := fmt.Sprintf("pid %d on %s since 2020-01-01T00:00:00Z\n", 1<<22+12345, host)
	if err := os.WriteFile(filepath.Join(dir, beamfs.LockName), []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	release, err = beamfs.Claim(ctx, dir)
	if err != nil {
		t.Fatalf("stale lock of a dead process: %v", err)
	}
	release()
	if err := beamfs.WriteAtomic(ctx, filepath.Join(dir, "a.txt"), func(w io.Writer) error { _, err := w.Write([]byte("hi")); return err }); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "a.txt" {
		t.Errorf("WriteAtomic left %v", entries)
	}
	boom := errors.New("boom")
	if err := beamfs.WriteAtomic(ctx, filepath.Join(dir, "b.txt"), func(io.Writer) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("failed atomic write: got %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("a failed atomic write left files: %v", entries)
	}
}

// WriteAtomic's temporary file is hidden (readers' globs skip it) and
// beside its target.
func TestWriteAtomicTempIsHidden(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "part-a.parquet")
	var during []string
	err := beamfs.WriteAtomic(context.Background(), target, func(w io.Writer) error {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			during = append(during, e.Name())
		}
		_, err := w.Write([]byte("x"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(during) != 1 || !strings.HasPrefix(during[0], beamfs.TempPrefix+"part-a.parquet-") {
		t.Errorf("while writing, the directory held %v; want one hidden %s… file", during, beamfs.TempPrefix)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*")); len(m) != 1 || m[0] != target {
		t.Errorf("after writing: %v, want only %s", m, target)
	}
}

// An existing local path is taken literally even when its name holds glob
// or brace characters; as a pattern it would match nothing (or the wrong
// files).
func TestLiteralPathsWithGlobCharacters(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file[1].tar")
	bracket := filepath.Join(dir, "br[ack]et")
	braces := filepath.Join(dir, "x{1}.tar")
	os.Mkdir(bracket, 0o755)
	for _, p := range []string{file, braces, filepath.Join(bracket, "a.tar"), filepath.Join(dir, "file1.tar")} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		pattern string
		want    []string
	}{
		{file, []string{file}},
		{bracket, []string{filepath.Join(bracket, "a.tar")}},
		{braces, []string{braces}},
		{filepath.Join(dir, "file?.tar"), []string{filepath.Join(dir, "file1.tar")}}, // a real glob still globs
	} {
		got, err := beamfs.Expand(context.Background(), []string{tc.pattern})
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Expand(%s) = %v, %v; want %v", tc.pattern, got, err, tc.want)
		}
	}
}
