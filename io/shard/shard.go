// Package shard reads the samples of one input shard, whatever its format:
// a WebDataset tar or tar.gz (io/wds) or an img2dataset caption Parquet file
// (io/captionpq). Open sniffs the format and returns a Source, a small
// iterator in the spirit of archive/tar: Next returns samples until io.EOF.
//
// A Source takes each sample's caption by the same rules whatever the
// format, and names the reason when a sample has none (Sample.Reject), so
// the caller counts every sample or lists it as a reject. Errors that end
// the shard are classified by Reason.
package shard

import (
	"github.com/conceptfreq/conceptfreq/io/reject"

	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/conceptfreq/conceptfreq/io/captionpq"
	"github.com/conceptfreq/conceptfreq/io/wds"
)

// MaxCaptionBytes bounds a caption: a longer one is not a caption (alt
// texts are at most a few kB) and is rejected before it is matched.
const MaxCaptionBytes = 1 << 20

// Sample-level reasons a caption could not be taken.
const (
	RejectNoCaption       = reject.NoCaption
	RejectEmptyCaption    = reject.EmptyCaption
	RejectNullCaption     = reject.NullCaption
	RejectInvalidUTF8     = reject.InvalidUTF8
	RejectInvalidJSON     = reject.InvalidJSON
	RejectCorruptMember   = wds.FaultCorruptMember
	RejectDuplicateMember = wds.FaultDuplicateMember
	RejectMemberTooLarge  = wds.FaultMemberTooLarge
	RejectUnsafePath      = wds.FaultUnsafePath
	// RejectCaptionTooLarge: a caption over MaxCaptionBytes.
	RejectCaptionTooLarge = reject.CaptionTooLarge
	// RejectSampleTruncated: the shard's damage cut the sample short.
	RejectSampleTruncated = reject.SampleTruncated
)

// Shard-level reasons: why a shard ended early or could not be read at all.
// Samples read before the failure still count.
const (
	RejectShardUnreadable = reject.ShardUnreadable // could not be opened or read
	RejectShardMissing    = reject.ShardMissing    // named (by a brace range) but not there
	RejectShardEmpty      = reject.ShardEmpty      // a file of zero bytes
	RejectShardTruncated  = reject.ShardTruncated  // ended early; samples before the cut are counted
	RejectShardBadFormat  = reject.ShardBadFormat  // not a tar/tar.gz/Parquet file
	RejectShardNoColumn   = reject.ShardNoColumn   // a Parquet file without a caption column
	RejectShardGzipBomb   = reject.ShardGzipBomb   // a gzip stream that inflates past wds.MaxInflation
)

// IsShardReason reports whether a reject reason counts shards, not samples.
func IsShardReason(reason string) bool { return reject.IsShard(reason) }

// ErrFormat marks a shard that is neither a tar/tar.gz nor a readable
// Parquet file.
var ErrFormat = errors.New("shard: not a WebDataset tar or caption Parquet file")

// ErrEmpty marks a shard of zero bytes.
var ErrEmpty = errors.New("shard: empty file")

// Reason classifies an error returned by Open or Source.Next as one of the
// shard-level reasons.
func Reason(err error) string {
	switch {
	case errors.Is(err, ErrEmpty), errors.Is(err, wds.ErrEmpty):
		return RejectShardEmpty
	case errors.Is(err, wds.ErrBomb):
		return RejectShardGzipBomb
	case errors.Is(err, wds.ErrTruncated):
		return RejectShardTruncated
	case errors.Is(err, captionpq.ErrNoCaptionColumn):
		return RejectShardNoColumn
	case errors.Is(err, wds.ErrFormat), errors.Is(err, ErrFormat):
		return RejectShardBadFormat
	}
	return RejectShardUnreadable
}

// Sample is one input sample.
type Sample struct {
	Key string
	// Caption is the caption to match; empty when Reject is set.
	Caption string
	// Reject, when not empty, is why the sample has no usable caption;
	// Detail says more.
	Reject, Detail string
	// Members are a WebDataset sample's members by extension (images
	// included); nil for Parquet rows.
	Members map[string][]byte
}

// Source iterates over the samples of one shard. Next returns io.EOF after
// the last sample; any other error ends the shard (classify it with
// Reason) and is returned again by later calls. The Sample Next returns may
// be reused by the next call (its strings and members stay valid).
type Source interface {
	Next() (*Sample, error)
	Close() error
}

// Format is how a shard is read.
type Format int

// Shard formats.
const (
	FormatUnknown Format = iota
	FormatWebDataset
	FormatParquet
)

// FormatOf guesses a shard's format from its name.
func FormatOf(path string) Format {
	p := strings.ToLower(path)
	switch {
	case strings.HasSuffix(p, ".parquet"):
		return FormatParquet
	case strings.HasSuffix(p, ".tar"), strings.HasSuffix(p, ".tar.gz"), strings.HasSuffix(p, ".tgz"):
		return FormatWebDataset
	}
	return FormatUnknown
}

// Options configure how captions are taken.
type Options struct {
	CaptionExt    string // WebDataset member holding the caption (default "txt"), else the .json "caption" field
	CaptionColumn string // Parquet caption column (default: the first of captionpq.CaptionColumns)
	// TextOnly reads only the members a caption can come from (the
	// caption member and .json) of a WebDataset shard; the others (the
	// images) are skipped unread and appear in Sample.Members with nil
	// bytes.
	TextOnly bool
}

// Open starts reading the shard r, named path in errors. The format comes
// from the name (.tar, .tar.gz, .tgz, .parquet), else from the content
// (Parquet's PAR1 magic, else tar).
func Open(ctx context.Context, r io.Reader, path string, opts Options) (Source, error) {
	br := readBufs.Get().(*bufio.Reader)
	br.Reset(r)
	release := func() { br.Reset(nil); readBufs.Put(br) }
	format := FormatOf(path)
	if format == FormatUnknown {
		if head, _ := br.Peek(4); string(head) == "PAR1" {
			format = FormatParquet
		} else {
			format = FormatWebDataset
		}
	}
	if format == FormatParquet {
		// br is only read while spooling: it is free once open.
		defer release()
		return openParquet(ctx, r, br, path, opts)
	}
	ext := opts.CaptionExt
	if ext == "" {
		ext = "txt"
	}
	// A caption member is never read (or inflated) past the caption limit:
	// a 1 MB shard of .txt.gz members that inflate to 255 MB each costs a
	// megabyte a member, not 255.
	wopts := wds.Options{Limit: func(e string) int64 {
		if e == ext {
			return MaxCaptionBytes
		}
		return 0
	}}
	if opts.TextOnly {
		wopts.Keep = func(e string) bool { return e == ext || e == "json" }
	}
	wr, err := wds.NewReader(br, path, wopts)
	if err != nil {
		release()
		if errors.Is(err, wds.ErrTruncated) {
			return nil, err
		}
		return nil, formatError{err}
	}
	return &wdsSource{r: wr, ext: ext, release: release}, nil
}

// readBufs holds the 256 KiB read buffers of the shards not open now
// (room to sniff the format, and the tar reader's buffer): a shard of a
// few samples should not cost a fresh quarter megabyte of garbage.
var readBufs = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 256<<10) }}

// formatError keeps the message of err and is ErrFormat.
type formatError struct{ err error }

func (e formatError) Error() string        { return e.err.Error() }
func (e formatError) Unwrap() error        { return e.err }
func (e formatError) Is(target error) bool { return target == ErrFormat }

// openParquet reads a Parquet shard by row group, never whole into
// memory: straight from r when it can seek (a local file), else from a
// temporary spool file that Close removes (gs://, memfs://, pipes).
// br is r behind the format sniffer's buffer.
func openParquet(ctx context.Context, r io.Reader, br io.Reader, path string, opts Options) (Source, error) {
	ras, ok := r.(parquetFile)
	var spool *os.File
	if !ok {
		f, err := os.CreateTemp("", "conceptfreq-parquet-*")
		if err != nil {
			return nil, fmt.Errorf("read %s: spooling to a temporary file: %w", path, err)
		}
		os.Remove(f.Name()) // unlinked: gone with the handle, whatever happens
		if _, err := io.Copy(f, br); err != nil {
			f.Close()
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		ras, spool = f, f
	}
	size, err := ras.Seek(0, io.SeekEnd)
	if err == nil {
		_, err = ras.Seek(0, io.SeekStart)
	}
	fail := func(err error) (Source, error) {
		if spool != nil {
			spool.Close()
		}
		return nil, err
	}
	if err != nil {
		return fail(fmt.Errorf("read %s: %w", path, err))
	}
	if size == 0 {
		return fail(fmt.Errorf("%w: %s", ErrEmpty, path))
	}
	pr, err := captionpq.NewReader(ctx, ras, path, captionpq.Options{CaptionColumn: opts.CaptionColumn})
	if err != nil {
		if errors.Is(err, captionpq.ErrNoCaptionColumn) {
			return fail(err)
		}
		return fail(formatError{err})
	}
	return &parquetSource{r: pr, spool: spool}, nil
}

// parquetFile is what a Parquet reader needs of its input.
type parquetFile interface {
	io.Reader
	io.ReaderAt
	io.Seeker
}

type parquetSource struct {
	r      *captionpq.Reader
	spool  *os.File // the temporary copy of a shard that could not seek
	sample Sample   // returned by every Next
}

func (s *parquetSource) Next() (*Sample, error) {
	row, err := s.r.Next()
	if err != nil {
		return nil, err
	}
	if row.Null {
		s.sample = Sample{Key: row.Key, Reject: RejectNullCaption, Detail: "caption is null"}
		return &s.sample, nil
	}
	text, reason, detail := checkText(row.Caption, "caption")
	s.sample = Sample{Key: row.Key, Caption: text, Reject: reason, Detail: detail}
	return &s.sample, nil
}

func (s *parquetSource) Close() error {
	err := s.r.Close()
	if s.spool != nil {
		s.spool.Close()
	}
	return err
}

type wdsSource struct {
	r       *wds.Reader
	ext     string
	release func() // gives the read buffer back; nil once closed
}

func (s *wdsSource) Next() (*Sample, error) {
	if s.release == nil {
		return nil, errors.New("shard: Next after Close")
	}
	ws, err := s.r.Next()
	if err != nil {
		return nil, err
	}
	if ws.Cut {
		members := make([]string, 0, len(ws.Members))
		for e := range ws.Members {
			members = append(members, e)
		}
		sort.Strings(members)
		return &Sample{Key: ws.Key, Reject: RejectSampleTruncated, Members: ws.Members,
			Detail: fmt.Sprintf("the shard is damaged inside this sample (members read whole: %s)", strings.Join(members, ","))}, nil
	}
	text, reason, detail := CaptionOf(ws, s.ext)
	return &Sample{Key: ws.Key, Caption: text, Reject: reason, Detail: detail, Members: ws.Members}, nil
}

func (s *wdsSource) Close() error {
	if s.release != nil {
		s.release()
		s.release = nil
	}
	return nil
}

// CaptionOf returns the caption of a WebDataset sample: the trimmed UTF-8
// text of its ext member, else the "caption" field of its json member. When
// there is none, reason says why and detail gives specifics.
func CaptionOf(s *wds.Sample, ext string) (text, reason, detail string) {
	if len(s.Faults) > 0 {
		f := s.Faults[0]
		if _, e, ok := wds.SplitName(f.Member); ok && f.Reason == wds.FaultMemberTooLarge && strings.TrimSuffix(e, ".gz") == ext {
			return "", RejectCaptionTooLarge, fmt.Sprintf("member %s: %s (a caption is at most %d bytes)", f.Member, f.Detail, MaxCaptionBytes)
		}
		return "", f.Reason, fmt.Sprintf("member %s: %s", f.Member, f.Detail)
	}
	if b, ok := s.Members[ext]; ok {
		return checkText(string(b), "."+ext)
	}
	if b, ok := s.Members["json"]; ok {
		var meta map[string]json.RawMessage
		if err := json.Unmarshal(b, &meta); err != nil {
			return "", RejectInvalidJSON, ".json: " + err.Error()
		}
		raw, ok := meta["caption"]
		if !ok || string(raw) == "null" {
			return "", RejectNoCaption, fmt.Sprintf("no .%s member and no \"caption\" in .json (members: %s)", ext, memberList(s))
		}
		var c string
		if err := json.Unmarshal(raw, &c); err != nil {
			return "", RejectInvalidJSON, ".json caption is not a string: " + err.Error()
		}
		return checkText(c, ".json caption")
	}
	return "", RejectNoCaption, fmt.Sprintf("no .%s or .json member (members: %s)", ext, memberList(s))
}

func checkText(b string, where string) (string, string, string) {
	if len(b) > MaxCaptionBytes {
		return "", RejectCaptionTooLarge, fmt.Sprintf("%s is %d bytes, limit %d", where, len(b), MaxCaptionBytes)
	}
	if !utf8.ValidString(b) {
		return "", RejectInvalidUTF8, where + " is not valid UTF-8"
	}
	t := strings.TrimSpace(strings.TrimPrefix(b, "\ufeff"))
	if t == "" {
		return "", RejectEmptyCaption, where + " is empty"
	}
	return t, "", ""
}

func memberList(s *wds.Sample) string {
	exts := make([]string, 0, len(s.Members))
	for e := range s.Members {
		exts = append(exts, e)
	}
	sort.Strings(exts)
	return strings.Join(exts, ",")
}

// Failure is a shard that could not be opened or read to its end: Reason
// is one of the shard-level reasons. Samples read before it still count.
type Failure struct {
	Reason string
	Err    error
}

func (f *Failure) Error() string { return f.Err.Error() }
func (f *Failure) Unwrap() error { return f.Err }

// ForEach opens path with open, reads it as a shard and calls each for
// every sample, in order. A problem with the shard's data (or opening it)
// is returned as a *Failure after the samples read before it; an error from
// each stops the loop and is returned as is.
func ForEach(ctx context.Context, open func(ctx context.Context, path string) (io.ReadCloser, error), path string, opts Options, each func(*Sample) error) error {
	rc, err := open(ctx, path)
	if err != nil {
		reason := RejectShardUnreadable
		if errors.Is(err, fs.ErrNotExist) {
			reason = RejectShardMissing
		}
		return &Failure{Reason: reason, Err: fmt.Errorf("open %s: %w", path, err)}
	}
	defer rc.Close()
	src, err := Open(ctx, rc, path, opts)
	if err != nil {
		return &Failure{Reason: Reason(err), Err: err}
	}
	defer src.Close()
	for {
		s, err := src.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return &Failure{Reason: Reason(err), Err: err}
		}
		if err := each(s); err != nil {
			return err
		}
	}
}
