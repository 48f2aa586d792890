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
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
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
	FaultCorruptMember = "corrupt_member"
	// FaultDuplicateMember: two members of one sample with the same extension.
	FaultDuplicateMember = "duplicate_member"
	// FaultMemberTooLarge: a member larger than the reader's limit.
	FaultMemberTooLarge = "member_too_large"
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
}

// Options configure a Reader.
type Options struct {
	// MaxMemberSize is the largest member kept, after decompression.
	// Zero means DefaultMaxMemberSize.
	MaxMemberSize int64
}

// Reader iterates over the samples of one shard. Errors are sticky: once Next
// returns an error other than io.EOF it returns the same error again.
type Reader struct {
	name    string
	cr      *blockCounter
	tr      *tar.Reader
	maxSize int64

	pending *Sample // sample being assembled
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
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: bad gzip header: %v", ErrFormat, name, err)
		}
		src = zr
	}
	maxSize := opts.MaxMemberSize
	if maxSize <= 0 {
		maxSize = DefaultMaxMemberSize
	}
	cr := &blockCounter{r: src}
	return &Reader{name: name, cr: cr, tr: tar.NewReader(cr), maxSize: maxSize}, nil
}

// Next returns the next sample, or io.EOF after the last one.
func (r *Reader) Next() (*Sample, error) {
	if r.err != nil {
		if r.err == io.EOF && r.pending != nil {
			s := r.pending
			r.pending = nil
			return s, nil
		}
		return nil, r.err
	}
	for {
		hdr, err := r.tr.Next()
		if err != nil {
			r.err = r.classify(err)
			if r.err == io.EOF && r.pending != nil {
				s := r.pending
				r.pending = nil
				return s, nil
			}
			return nil, r.err
		}
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeRegA {
			continue
		}
		key, ext, ok := SplitName(hdr.Name)
		if !ok {
			continue
		}
		data, fault, err := r.readMember(hdr)
		if err != nil {
			r.err = err
			// The partly assembled sample is lost with the shard: report it
			// as the error's context rather than as a sample.
			return nil, r.err
		}
		var gzFault *Fault
		if strings.HasSuffix(ext, ".gz") || ext == "gz" {
			if ext != "gz" {
				ext = strings.TrimSuffix(ext, ".gz")
			}
			if fault == nil {
				data, gzFault = gunzipMember(hdr.Name, data, r.maxSize)
			}
		}
		var out *Sample
		if r.pending != nil && r.pending.Key != key {
			out = r.pending
			r.pending = nil
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
				s.Faults = append(s.Faults, Fault{Member: hdr.Name, Reason: FaultDuplicateMember,
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

// classify turns errors from archive/tar into the package's errors.
func (r *Reader) classify(err error) error {
	if err == io.EOF {
		if !r.cr.sawEndMarker() {
			return fmt.Errorf("%w: %s: no end-of-archive marker after %d bytes", ErrTruncated, r.name, r.cr.n)
		}
		return io.EOF
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %s: at byte %d: %v", ErrTruncated, r.name, r.cr.n, err)
	}
	if errors.Is(err, tar.ErrHeader) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) {
		return fmt.Errorf("%w: %s: at byte %d: %v", ErrFormat, r.name, r.cr.n, err)
	}
	return fmt.Errorf("wds: shard %s: %w", r.name, err)
}

func (r *Reader) readMember(hdr *tar.Header) ([]byte, *Fault, error) {
	if hdr.Size > r.maxSize {
		// archive/tar skips the unread data on the next call to Next.
		return nil, &Fault{Member: hdr.Name, Reason: FaultMemberTooLarge,
			Detail: fmt.Sprintf("%d bytes, limit %d", hdr.Size, r.maxSize)}, nil
	}
	buf := make([]byte, hdr.Size)
	if _, err := io.ReadFull(r.tr, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, nil, fmt.Errorf("%w: %s: member %s: %v", ErrTruncated, r.name, hdr.Name, err)
	}
	return buf, nil, nil
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

// blockCounter counts the bytes read through it and remembers whether the
// last complete 512-byte block was all zeros, which is how a tar archive that
// ends with its end-of-archive marker can be told from one cut short on a
// header boundary. Only the bytes of the last block completed by each read
// (and of the block still being filled) are examined, not every byte.
type blockCounter struct {
	r           io.Reader
	n           int64
	curNonZero  bool // bytes of the incomplete current block seen so far
	lastWasZero bool // the last complete block
}

func (c *blockCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	start := c.n
	c.n += int64(n)
	if end := c.n / 512 * 512; end > start {
		// [end-512, end) is the last block this read completed.
		from := end - 512
		nonZero := false
		if from < start {
			nonZero = c.curNonZero
			from = start
		}
		c.lastWasZero = !(nonZero || anyNonZero(p[from-start:end-start]))
		c.curNonZero = anyNonZero(p[end-start : n])
	} else {
		c.curNonZero = c.curNonZero || anyNonZero(p[:n])
	}
	return n, err
}

func anyNonZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return true
		}
	}
	return false
}

// sawEndMarker reports whether the stream consumed so far ended on a block
// boundary with a zero block.
func (c *blockCounter) sawEndMarker() bool {
	return c.n > 0 && c.n%512 == 0 && c.lastWasZero
}
