// Package wds reads WebDataset shards: tar archives, optionally gzip-compressed
// as a whole, whose members are grouped into samples by key.
//
// The grouping follows the webdataset library: the key of a member is its path
// up to the first dot of the basename (directory included), the rest of the
// basename is the extension. Consecutive members with the same key form one
// sample. Members whose extension ends in ".gz" are decompressed and lose that
// suffix. Directories, links, hidden members ("." prefix, which covers "._*"
// AppleDouble files) and anything under "__MACOSX/" are skipped.
package wds

import (
	"github.com/conceptfreq/conceptfreq/io/reject"

	"archive/tar"
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// Errors reported by the reader. Shard-level errors returned by Next wrap one
// of these; sample-level problems are reported as Faults on the Sample.
var (
	// ErrTruncated means the shard ended before the tar end-of-archive marker
	// or in the middle of a member.
	ErrTruncated = errors.New("wds: truncated shard")
	// ErrFormat means the shard is not a (gzipped) tar archive.
	ErrFormat = errors.New("wds: not a tar archive")
	// ErrEmpty means the shard has no bytes at all (it is also ErrTruncated).
	ErrEmpty = fmt.Errorf("%w: empty file", ErrTruncated)
)

// DefaultMaxMemberSize bounds the bytes kept for one member.
const DefaultMaxMemberSize = 256 << 20

// Fault reasons attached to samples.
const (
	// FaultCorruptMember: a ".gz" member that does not decompress.
	FaultCorruptMember = reject.CorruptMember
	// FaultDuplicateMember: two members of one sample with the same extension.
	FaultDuplicateMember = reject.DuplicateMember
	// FaultUnsafePath: a member path that climbs out of the archive ("..")
	// or is absolute; never a sample of a well-formed shard.
	FaultUnsafePath = reject.UnsafePath
	// FaultMemberTooLarge: a member larger than the reader's limit.
	FaultMemberTooLarge = reject.MemberTooLarge
)

// Fault is a problem with one member of a sample. The sample is still
// returned so that the caller can account for it.
type Fault struct {
	Member string // full member name in the archive
	Reason string // one of the Fault* constants
	Detail string
}

// Sample is one group of members sharing a key.
type Sample struct {
	Key     string
	Members map[string][]byte // extension ("txt", "jpg", "seg.png") → bytes
	Faults  []Fault
	// Cut is set on a sample the shard's damage cut short: some of its
	// members may be missing. It is returned just before the shard's error
	// so that the caller can list it.
	Cut bool
}

// Options configure a Reader.
type Options struct {
	// MaxMemberSize is the largest member kept, after decompression.
	// Zero means DefaultMaxMemberSize.
	MaxMemberSize int64
	// Keep, when set, says which members' bytes are needed, by extension
	// (".gz" removed). The others are skipped unread: they appear in
	// Sample.Members with nil bytes (so member lists and duplicate checks
	// are unchanged), and a compressed one is not decompressed (so a
	// corrupt one is no fault). A text-only count keeps "txt" and "json".
	Keep func(ext string) bool
	// Limit, when set, gives a smaller bound than MaxMemberSize for the
	// members of some extensions (".gz" removed; 0: MaxMemberSize): a
	// member over it is a FaultMemberTooLarge, never read whole — a
	// compressed one is inflated no further than the bound. The count
	// job bounds caption members by the caption limit.
	Limit func(ext string) int64
}

// Reader iterates over the samples of one shard. Errors are sticky: once Next
// returns an error other than io.EOF it returns the same error again.
type Reader struct {
	name    string
	ts      *tarScanner
	maxSize int64
	keep    func(ext string) bool
	limit   func(ext string) int64

	pending *Sample // sample being assembled
	queue   []*Sample
	prevSet []string // the extensions of the last complete sample
	err     error
}

// NewReader returns a Reader over the shard read from r. The shard may be a
// plain tar or a gzip-compressed tar; this is detected from its first bytes.
// name is used in error messages only.
func NewReader(r io.Reader, name string, opts Options) (*Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(2)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %s", ErrEmpty, name)
		}
		return nil, fmt.Errorf("wds: shard %s: %w", name, err)
	}
	var src io.Reader = br
	if magic[0] == 0x1f && magic[1] == 0x8b {
		in := &countReader{r: br}
		zr, err := gzip.NewReader(in)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: bad gzip header: %v", ErrFormat, name, err)
		}
		src = &bombGuard{r: zr, in: in, name: name}
	}
	maxSize := opts.MaxMemberSize
	if maxSize <= 0 {
		maxSize = DefaultMaxMemberSize
	}
	tb, ok := src.(*bufio.Reader)
	if !ok {
		tb = bufio.NewReaderSize(src, 64<<10)
	}
	return &Reader{name: name, ts: newTarScanner(tb), maxSize: maxSize, keep: opts.Keep, limit: opts.Limit}, nil
}

// Next returns the next sample, or io.EOF after the last one. When the
// shard is damaged, the samples that lie wholly before the damage are
// returned, then the sample the damage cut (if any) with Cut set, then the
// error.
func (r *Reader) Next() (*Sample, error) {
	if len(r.queue) > 0 {
		s := r.queue[0]
		r.queue = r.queue[1:]
		return s, nil
	}
	if r.err != nil {
		return nil, r.err
	}
	for {
		hdr, err := r.ts.next()
		if err != nil {
			r.err = r.classify(err)
			if r.err == io.EOF {
				if r.pending != nil {
					r.queue = append(r.queue, r.complete())
				}
			} else {
				key, known := r.ts.partialKey()
				own := known && (r.pending == nil || r.pending.Key != key)
				r.damaged(key, known)
				if own {
					// The cut header names a sample of its own: it is cut.
					r.queue = append(r.queue, &Sample{Key: key, Members: map[string][]byte{}, Cut: true})
				}
			}
			return r.Next()
		}
		if hdr.typeflag != tar.TypeReg || hdr.sparse {
			continue
		}
		key, ext, ok := SplitName(hdr.name)
		if !ok {
			continue
		}
		base := strings.TrimSuffix(ext, ".gz")
		skipped := r.keep != nil && base != "gz" && !r.keep(base)
		var data []byte
		var fault *Fault
		maxSize := r.maxSize
		if r.limit != nil {
			if l := r.limit(base); l > 0 && l < maxSize {
				maxSize = l
			}
		}
		switch {
		case unsafePath(hdr.name):
			fault = &Fault{Member: hdr.name, Reason: FaultUnsafePath, Detail: "the path climbs out of the archive or is absolute"}
		case skipped:
			// left unread; the scanner skips it at the next header
		default:
			limit := maxSize
			if base != ext {
				limit = r.maxSize // compressed: the bound applies to what it inflates to
			}
			data, fault, err = r.readMember(hdr, limit)
		}
		if err != nil {
			r.err = err
			own := r.pending == nil || r.pending.Key != key
			r.damaged(key, true)
			if own {
				// The member being read starts a sample of its own: it is cut.
				r.queue = append(r.queue, &Sample{Key: key, Members: map[string][]byte{}, Cut: true})
			}
			return r.Next()
		}
		var gzFault *Fault
		if strings.HasSuffix(ext, ".gz") || ext == "gz" {
			if ext != "gz" {
				ext = strings.TrimSuffix(ext, ".gz")
			}
			if fault == nil && !skipped {
				data, gzFault = gunzipMember(hdr.name, data, maxSize)
			}
		}
		var out *Sample
		if r.pending != nil && r.pending.Key != key {
			out = r.complete()
		}
		if r.pending == nil {
			r.pending = &Sample{Key: key, Members: make(map[string][]byte, 3)}
		}
		s := r.pending
		switch {
		case fault != nil:
			s.Faults = append(s.Faults, *fault)
		case gzFault != nil:
			s.Faults = append(s.Faults, *gzFault)
		default:
			if _, dup := s.Members[ext]; dup {
				s.Faults = append(s.Faults, Fault{Member: hdr.name, Reason: FaultDuplicateMember,
					Detail: fmt.Sprintf("key %q has more than one %q member", key, ext)})
			} else {
				s.Members[ext] = data
			}
		}
		if out != nil {
			return out, nil
		}
	}
}

// complete hands over the pending sample as a whole one.
func (r *Reader) complete() *Sample {
	s := r.pending
	r.pending = nil
	r.prevSet = memberSet(s)
	return s
}

func memberSet(s *Sample) []string {
	exts := make([]string, 0, len(s.Members))
	for e := range s.Members {
		exts = append(exts, e)
	}
	sort.Strings(exts)
	return exts
}

// damaged queues the pending sample when the shard fails: whole when the
// damage lies in a member of another sample (nextKey, when known), or —
// when the next key is unknown — when it has the members of the sample
// before it; otherwise cut. The first sample of a shard cut at a member
// boundary cannot be told from a whole one and counts as cut.
func (r *Reader) damaged(nextKey string, known bool) {
	if r.pending == nil {
		return
	}
	whole := false
	switch {
	case known:
		whole = nextKey != r.pending.Key
	case r.prevSet != nil:
		whole = slices.Equal(r.prevSet, memberSet(r.pending))
	}
	if whole {
		r.queue = append(r.queue, r.complete())
		return
	}
	s := r.pending
	r.pending = nil
	s.Cut = true
	r.queue = append(r.queue, s)
}

// classify turns the tar scanner's errors into the package's errors.
func (r *Reader) classify(err error) error {
	if err == io.EOF {
		if !r.ts.sawEndMarker() {
			return fmt.Errorf("%w: %s: no end-of-archive marker after %d bytes", ErrTruncated, r.name, r.ts.n)
		}
		return io.EOF
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		if r.ts.n < 512 && notTarText(r.ts.cur) {
			return fmt.Errorf("%w: %s: %d bytes of text, no tar header", ErrFormat, r.name, r.ts.n)
		}
		return fmt.Errorf("%w: %s: at byte %d: %v", ErrTruncated, r.name, r.ts.n, err)
	}
	var corrupt flate.CorruptInputError
	if errors.As(err, &corrupt) {
		return fmt.Errorf("%w: %s: the gzip stream is corrupt: %v", ErrFormat, r.name, err)
	}
	if errors.Is(err, tar.ErrHeader) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) {
		return fmt.Errorf("%w: %s: at byte %d: %v", ErrFormat, r.name, r.ts.n, err)
	}
	return fmt.Errorf("wds: shard %s: %w", r.name, err)
}

func (r *Reader) readMember(hdr tarEntry, maxSize int64) ([]byte, *Fault, error) {
	if hdr.size > maxSize {
		// The scanner skips the unread data at the next header.
		return nil, &Fault{Member: hdr.name, Reason: FaultMemberTooLarge,
			Detail: fmt.Sprintf("%d bytes, limit %d", hdr.size, maxSize)}, nil
	}
	buf := make([]byte, hdr.size)
	if _, err := r.ts.read(buf); err != nil {
		if errors.Is(err, ErrBomb) {
			return nil, nil, err
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, nil, fmt.Errorf("%w: %s: member %s: %v", ErrTruncated, r.name, hdr.name, err)
	}
	return buf, nil, nil
}

// MaxInflation bounds how much a whole-shard gzip stream may expand:
// past BombFloor inflated bytes, more than MaxInflation bytes out per byte
// in is a decompression bomb (deflate's own limit is about 1,032; real
// shards of JPEGs inflate about 1:1, tars of short captions a few tens).
const (
	MaxInflation = 500
	BombFloor    = 256 << 20
)

// ErrBomb marks a gzip shard that inflates past MaxInflation.
var ErrBomb = errors.New("wds: gzip decompression bomb")

// countReader counts the compressed bytes gzip consumes. It is an
// io.ByteReader, so gzip reads it without a read-ahead buffer of its own
// (the count is exact) and byte reads go straight to the bufio.Reader.
type countReader struct {
	r *bufio.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

// bombGuard stops a gzip stream that inflates too far, in bounded time.
type bombGuard struct {
	r    io.Reader
	in   *countReader
	out  int64
	name string
}

func (g *bombGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	g.out += int64(n)
	if g.out > BombFloor && g.out > MaxInflation*max(g.in.n, 1) {
		return n, fmt.Errorf("%w: %s: %d bytes inflated from %d (more than %d:1)", ErrBomb, g.name, g.out, g.in.n, MaxInflation)
	}
	return n, err
}

func gunzipMember(name string, data []byte, maxSize int64) ([]byte, *Fault) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, &Fault{Member: name, Reason: FaultCorruptMember, Detail: "gzip: " + err.Error()}
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxSize+1))
	if err != nil {
		return nil, &Fault{Member: name, Reason: FaultCorruptMember, Detail: "gzip: " + err.Error()}
	}
	if int64(len(out)) > maxSize {
		return nil, &Fault{Member: name, Reason: FaultMemberTooLarge,
			Detail: fmt.Sprintf("decompresses to more than %d bytes", maxSize)}
	}
	return out, nil
}

// unsafePath reports whether a member path is absolute or has a ".."
// element.
func unsafePath(name string) bool {
	if strings.HasPrefix(name, "/") || strings.HasPrefix(name, `\`) {
		return true
	}
	if !strings.Contains(name, "..") {
		return false
	}
	for _, el := range strings.FieldsFunc(name, func(r rune) bool { return r == '/' || r == '\\' }) {
		if el == ".." {
			return true
		}
	}
	return false
}

// SplitName splits a member name into sample key and extension the way the
// webdataset library does. ok is false for members that are not part of any
// sample: hidden files, "__MACOSX" entries and names without an extension.
func SplitName(name string) (key, ext string, ok bool) {
	name = strings.TrimPrefix(name, "./")
	dir, base := path.Split(name)
	if base == "" || strings.HasPrefix(base, ".") {
		return "", "", false
	}
	for _, part := range strings.Split(dir, "/") {
		if part == "__MACOSX" || (strings.HasPrefix(part, ".") && part != "." && part != "..") {
			return "", "", false
		}
	}
	dot := strings.IndexByte(base, '.')
	if dot <= 0 || dot == len(base)-1 {
		return "", "", false
	}
	return dir + base[:dot], base[dot+1:], true
}

// partialKey returns the sample key in the name field of a tar header cut
// short (the incomplete block's first 100 bytes), when there is one.
func (c *tarScanner) partialKey() (string, bool) {
	if len(c.cur) < 100 {
		return "", false
	}
	name := c.cur[:100]
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	if len(name) == 0 || !utf8.Valid(name) {
		return "", false
	}
	key, _, ok := SplitName(string(name))
	return key, ok
}

// notTarText reports whether the bytes of a file shorter than one tar
// block are text rather than the start of a tar header: no NUL (a header
// pads its name with NULs) and a control character such as a newline (a
// member name has none).
func notTarText(b []byte) bool {
	if len(b) == 0 || bytes.IndexByte(b, 0) >= 0 {
		return false
	}
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}

// sawEndMarker reports whether the stream consumed so far ended on a block
// boundary after a zero block.
func (c *tarScanner) sawEndMarker() bool {
	return c.n > 0 && c.n%512 == 0 && c.lastZero
}
