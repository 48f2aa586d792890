// Package beamfs is conceptfreq's adapter to Beam's filesystems, its one
// place for file access: it opens, reads, lists and writes files through the
// Beam filesystem registered for their scheme (local paths, gs://,
// memfs://), so the count job's launcher, its workers and the fit read and
// write local and cloud paths the same way. Path syntax (joining, schemes,
// brace ranges) and the function types readers take are plain Go, in
// io/paths.
//
// Writes check the commit error of Close (a GCS object exists only once
// Close succeeds). Filesystems are registered by importing them; the
// runners package imports local, gs and memfs.
package beamfs

import (
	"context"
	"errors"
	"fmt"
	"github.com/conceptfreq/conceptfreq/io/paths"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/storage"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
)

// ErrNotEmpty is returned by CheckOutput for an output location that
// already holds files.
var ErrNotEmpty = errors.New("beamfs: output location is not empty")

// Open opens path for reading through a filesystem client of its own,
// closed with the returned reader.
func Open(ctx context.Context, path string) (io.ReadCloser, error) {
	fs, err := filesystem.New(ctx, path)
	if err != nil {
		return nil, err
	}
	rc, err := fs.OpenRead(ctx, path)
	if err != nil {
		fs.Close()
		return nil, notExist(err)
	}
	if ras, ok := rc.(readAtSeeker); ok {
		// A local file: keep random access, so a Parquet shard is read by
		// row group in place.
		return &closeBothAt{closeBoth: closeBoth{ReadCloser: rc, fs: fs}, ras: ras}, nil
	}
	return &closeBoth{ReadCloser: rc, fs: fs}, nil
}

type readAtSeeker interface {
	io.ReaderAt
	io.Seeker
}

type closeBothAt struct {
	closeBoth
	ras readAtSeeker
}

func (c *closeBothAt) ReadAt(p []byte, off int64) (int, error) { return c.ras.ReadAt(p, off) }
func (c *closeBothAt) Seek(off int64, whence int) (int64, error) {
	return c.ras.Seek(off, whence)
}

type closeBoth struct {
	io.ReadCloser
	fs filesystem.Interface
}

func (c *closeBoth) Close() error {
	err := c.ReadCloser.Close()
	if ferr := c.fs.Close(); err == nil {
		err = ferr
	}
	return err
}

// ReadAll reads a whole file.
func ReadAll(ctx context.Context, path string) ([]byte, error) {
	return readWith(ctx, Open, path)
}

func readWith(ctx context.Context, open paths.OpenFunc, path string) ([]byte, error) {
	rc, err := open(ctx, path)
	if err != nil {
		if IsNotExist(err) && !errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("%w (%w)", fs.ErrNotExist, err) // a missing gs:// object reads as any missing file
		}
		return nil, err
	}
	b, err := io.ReadAll(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	return b, err
}

// Write creates (or replaces) path, lets fill write its content and commits
// it, returning the commit error of Close. Local parent directories are
// created.
func Write(ctx context.Context, path string, fill func(io.Writer) error) error {
	fs, err := filesystem.New(ctx, path)
	if err != nil {
		return fmt.Errorf("beamfs: %s: %w", path, err)
	}
	defer fs.Close()
	w, err := fs.OpenWrite(ctx, path)
	if err != nil {
		return fmt.Errorf("beamfs: open %s for writing: %w", path, err)
	}
	if err := fill(w); err != nil {
		w.Close()
		return fmt.Errorf("beamfs: write %s: %w", path, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("beamfs: commit %s: %w", path, err)
	}
	return nil
}

// TempPrefix starts the names WriteAtomic writes before renaming them: a
// hidden name, so that readers' globs (DuckDB's 'dir/*', pandas' and
// pyarrow's directory reads, which skip names starting with '.') never
// take a half-written file of a killed run for a part.
const TempPrefix = ".tmp-"

// TempName is where WriteAtomic writes path before renaming it: beside it,
// under TempPrefix.
func TempName(file string) string {
	dir, base := path.Split(file)
	return dir + TempPrefix + base + fmt.Sprintf("-%d-%d", os.Getpid(), time.Now().UnixNano())
}

// WriteAtomic is Write through a temporary name in the same directory
// (TempName), renamed to path once committed, so an interrupted write
// never leaves a partial file under path (on filesystems that rename;
// others are written in place).
func WriteAtomic(ctx context.Context, path string, fill func(io.Writer) error) error {
	fs, err := filesystem.New(ctx, path)
	if err != nil {
		return fmt.Errorf("beamfs: %s: %w", path, err)
	}
	defer fs.Close()
	r, ok := fs.(filesystem.Renamer)
	if !ok {
		return Write(ctx, path, fill)
	}
	tmp := TempName(path)
	if err := Write(ctx, tmp, fill); err != nil {
		if rm, ok := fs.(filesystem.Remover); ok {
			rm.Remove(ctx, tmp)
		}
		return err
	}
	if err := r.Rename(ctx, tmp, path); err != nil {
		return fmt.Errorf("beamfs: rename %s to %s: %w", tmp, path, err)
	}
	return nil
}

// Remove deletes path if it exists.
func Remove(ctx context.Context, path string) error {
	fs, err := filesystem.New(ctx, path)
	if err != nil {
		return err
	}
	defer fs.Close()
	rm, ok := fs.(filesystem.Remover)
	if !ok {
		return fmt.Errorf("beamfs: %s: the filesystem cannot remove files", path)
	}
	if err := rm.Remove(ctx, path); err != nil && !IsNotExist(err) {
		return fmt.Errorf("beamfs: remove %s: %w", path, err)
	}
	return nil
}

// LockName is the file a run holds in its output directory while it runs.
const LockName = ".conceptfreq.lock"

// ErrInUse is returned by Claim when another live run holds the output.
var ErrInUse = errors.New("beamfs: output location is in use by another run")

// Claim takes dir for this process: it creates dir/.conceptfreq.lock
// (exclusively on local disks) naming the process, host and start time.
// A lock left by a process of this host that no longer runs is taken over.
// release removes the lock. On gs:// the claim is a check then a write,
// not atomic.
func Claim(ctx context.Context, dir string) (release func(), err error) {
	host, _ := os.Hostname()
	me := fmt.Sprintf("pid %d on %s since %s", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))
	path := paths.Join(dir, LockName)
	release = func() { Remove(context.Background(), path) }
	if !paths.IsLocal(dir) {
		if b, err := ReadAll(ctx, path); err == nil {
			return nil, fmt.Errorf("%w (%s); wait for it, or remove %s if it died", ErrInUse, strings.TrimSpace(string(b)), path)
		}
		return release, WriteBytes(ctx, path, []byte(me+"\n"))
	}
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("beamfs: output %s is a file, not a directory", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("beamfs: output %s: %w", dir, err)
	}
	for attempt := 0; attempt < 2; attempt++ {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			_, werr := f.WriteString(me + "\n")
			if cerr := f.Close(); werr == nil {
				werr = cerr
			}
			return release, werr
		}
		if !os.IsExist(err) {
			return nil, fmt.Errorf("beamfs: output %s: %w", dir, err)
		}
		b, _ := os.ReadFile(path)
		holder := strings.TrimSpace(string(b))
		var pid int
		var lockHost string
		if n, _ := fmt.Sscanf(holder, "pid %d on %s", &pid, &lockHost); n == 2 && lockHost == host && !processAlive(pid) {
			os.Remove(path) // stale: its process is gone
			continue
		}
		return nil, fmt.Errorf("%w (%s); wait for it, or remove %s if it died", ErrInUse, holder, path)
	}
	return nil, fmt.Errorf("%w: could not take %s", ErrInUse, path)
}

// WriteBytes writes data to path (see Write).
func WriteBytes(ctx context.Context, path string, data []byte) error {
	return Write(ctx, path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// List returns the files matching a glob (local or gs://), sorted.
func List(ctx context.Context, glob string) ([]string, error) {
	fs, err := filesystem.New(ctx, glob)
	if err != nil {
		return nil, err
	}
	defer fs.Close()
	list, err := fs.List(ctx, glob)
	if err != nil {
		return nil, err
	}
	sort.Strings(list)
	return list, nil
}

// ShardExts are the file patterns a directory input stands for.
var ShardExts = []string{"*.tar", "*.tar.gz", "*.tgz", "*.parquet"}

// Expand resolves patterns (local globs, gs:// globs, directories — a local
// directory or a gs:// prefix ending in "/" stands for its shard files —
// and img2dataset's brace ranges, see paths.Braces) into a sorted, de-duplicated
// list of files. A pattern without braces that matches nothing is an error
// naming it; the files a brace pattern names one by one are taken as given,
// without listing, and one that is missing is the reader's to report.
func Expand(ctx context.Context, patterns []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, p := range patterns {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if err := MatchPattern(ctx, p, func(f string) {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}); err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("beamfs: no input patterns given")
	}
	sort.Strings(out)
	return out, nil
}

// MatchPattern calls emit for each file one --input pattern names: its
// brace groups expanded (paths.Braces), then each expansion listed when it is a
// glob or a directory. A brace expansion without glob characters is emitted
// as is, so a range of 41,408 shard names costs no listing calls. A
// pattern, or a glob within a brace expansion, that matches nothing is an
// error naming it.
func MatchPattern(ctx context.Context, pattern string, emit func(string)) error {
	if paths.IsLocal(pattern) && (paths.HasMeta(pattern) || strings.ContainsAny(pattern, "{}")) {
		// A local file or directory whose name holds glob or brace
		// characters (file[1].tar, br[ack]et/) is taken literally when it
		// exists: the literal path wins over the pattern.
		if fi, err := os.Stat(pattern); err == nil {
			if !fi.IsDir() {
				emit(pattern)
				return nil
			}
			list, err := matchOne(ctx, pattern)
			if err != nil {
				return err
			}
			if len(list) == 0 {
				return fmt.Errorf("beamfs: directory %s holds no shard files (%s)", pattern, strings.Join(ShardExts, ", "))
			}
			for _, f := range list {
				emit(f)
			}
			return nil
		}
	}
	items, err := paths.Braces(pattern)
	if err != nil {
		return err
	}
	braced := strings.ContainsRune(pattern, '{')
	for _, item := range items {
		if braced && !paths.HasMeta(item) && !strings.HasSuffix(item, "/") {
			emit(item)
			continue
		}
		list, err := matchOne(ctx, item)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			if braced {
				return fmt.Errorf("beamfs: %s (from %s) matched no files", item, pattern)
			}
			return fmt.Errorf("beamfs: %s matched no files", pattern)
		}
		for _, f := range list {
			emit(f)
		}
	}
	return nil
}

// escapeGlob quotes a local path's glob characters, so that it matches
// itself only.
func escapeGlob(p string) string {
	var b strings.Builder
	for _, r := range p {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// matchOne lists one pattern without braces: a glob, a file, or a
// directory (local, or gs:// ending in "/") standing for its shard files.
func matchOne(ctx context.Context, p string) ([]string, error) {
	globs := []string{p}
	if paths.IsLocal(p) {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			globs = nil
			for _, ext := range ShardExts {
				globs = append(globs, filepath.Join(escapeGlob(p), ext))
			}
		}
	} else if strings.HasSuffix(p, "/") {
		globs = nil
		for _, ext := range ShardExts {
			globs = append(globs, p+ext)
		}
	}
	var out []string
	for _, g := range globs {
		list, err := List(ctx, g)
		if err != nil {
			return nil, fmt.Errorf("beamfs: %s: %w", p, err)
		}
		out = append(out, list...)
	}
	return out, nil
}

// CheckOutput checks an output directory before a run writes into it: it
// must be named, and unless overwrite is set it must be absent or empty
// (ErrNotEmpty otherwise, with the number of entries in the message).
func CheckOutput(ctx context.Context, dir string, overwrite bool) error {
	if strings.TrimSpace(dir) == "" {
		return fmt.Errorf("beamfs: output location is empty")
	}
	if paths.IsLocal(dir) {
		if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
			return fmt.Errorf("beamfs: output %s is a file, not a directory", dir)
		}
	}
	if overwrite {
		return nil
	}
	if paths.IsLocal(dir) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return fmt.Errorf("beamfs: output %s: %w", dir, err)
		}
		n := 0
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), ".conceptfreq") { // our lock and probes
				n++
			}
		}
		if n > 0 {
			return fmt.Errorf("%w: %s has %d entries", ErrNotEmpty, dir, n)
		}
		return nil
	}
	all, err := List(ctx, paths.Join(dir, "*"))
	if err != nil {
		return fmt.Errorf("beamfs: output %s: %w", dir, err)
	}
	var list []string
	for _, o := range all {
		if !strings.Contains(o[strings.LastIndex(o, "/")+1:], ".conceptfreq") {
			list = append(list, o)
		}
	}
	if len(list) > 0 {
		return fmt.Errorf("%w: %s has %d objects", ErrNotEmpty, dir, len(list))
	}
	return nil
}

// Clients opens files through one filesystem client per scheme, kept open
// until Close: a DoFn holds one for its lifetime so that each shard does
// not dial a new GCS client. It is safe for concurrent use (Beam's
// filesystem clients are).
type Clients struct {
	mu sync.Mutex
	fs map[string]filesystem.Interface
}

// Open opens path for reading with the client of its scheme.
func (c *Clients) Open(ctx context.Context, path string) (io.ReadCloser, error) {
	fs, err := c.client(ctx, path)
	if err != nil {
		return nil, err
	}
	rc, err := fs.OpenRead(ctx, path)
	return rc, notExist(err)
}

// client returns the filesystem client of path's scheme, made on first use.
func (c *Clients) client(ctx context.Context, path string) (filesystem.Interface, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	scheme := paths.Scheme(path)
	if fs, ok := c.fs[scheme]; ok {
		return fs, nil
	}
	fs, err := filesystem.New(ctx, path)
	if err != nil {
		return nil, err
	}
	if c.fs == nil {
		c.fs = map[string]filesystem.Interface{}
	}
	c.fs[scheme] = fs
	return fs, nil
}

// notExist makes a missing gs:// object an os.ErrNotExist too.
func notExist(err error) error {
	if err != nil && errors.Is(err, storage.ErrObjectNotExist) && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: %w", os.ErrNotExist, err)
	}
	return err
}

// ReadAll reads a whole file with the client of its scheme.
func (c *Clients) ReadAll(ctx context.Context, path string) ([]byte, error) {
	return readWith(ctx, c.Open, path)
}

// Close closes every client opened, returning the first error.
func (c *Clients) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var first error
	for _, fs := range c.fs {
		if err := fs.Close(); err != nil && first == nil {
			first = fmt.Errorf("beamfs: closing filesystem: %w", err)
		}
	}
	c.fs = nil
	return first
}

// IsNotExist reports whether err says that a file or object does not exist,
// on any of the registered filesystems.
func IsNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, storage.ErrObjectNotExist)
}

// Probe checks that dir (local or gs://) can be written, by creating and
// removing a small object in it, so a run fails at launch rather than after
// counting.
func Probe(ctx context.Context, dir string) error {
	name := paths.Join(dir, fmt.Sprintf(".conceptfreq-probe-%d-%d", os.Getpid(), time.Now().UnixNano()))
	if err := WriteBytes(ctx, name, []byte("probe")); err != nil {
		return fmt.Errorf("beamfs: %s is not writable: %w", dir, err)
	}
	fs, err := filesystem.New(ctx, name)
	if err != nil {
		return err
	}
	defer fs.Close()
	if r, ok := fs.(filesystem.Remover); ok {
		if err := r.Remove(ctx, name); err != nil {
			return fmt.Errorf("beamfs: removing the probe %s: %w", name, err)
		}
	}
	return nil
}

// Identity names the version of a file a run read: its path, size and last
// modification time (on gs://, the object's update time, which changes
// with every new generation). A file whose bytes changed has a new
// identity.
func Identity(ctx context.Context, path string) (string, error) {
	var c Clients
	defer c.Close()
	return c.Identity(ctx, path)
}

// Identity is files.Identity with the client of path's scheme.
func (c *Clients) Identity(ctx context.Context, path string) (string, error) {
	fsys, err := c.client(ctx, path)
	if err != nil {
		return "", err
	}
	size, err := fsys.Size(ctx, path)
	if err != nil {
		return "", fmt.Errorf("beamfs: %s: %w", path, err)
	}
	var mod int64
	if lm, ok := fsys.(filesystem.LastModifiedGetter); ok {
		t, err := lm.LastModified(ctx, path)
		if err != nil {
			return "", fmt.Errorf("beamfs: %s: %w", path, err)
		}
		mod = t.UnixNano()
	}
	return fmt.Sprintf("%s\x00%d\x00%d", path, size, mod), nil
}
