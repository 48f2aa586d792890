package count

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/conceptfreq/conceptfreq/io/captionpq"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/io/wds"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
)

// Reject reasons. Sample-level reasons count samples; shard-level reasons
// (the Shard* ones) count shards, and such rejects have an empty key.
const (
	RejectNoCaption       = "no_caption"
	RejectEmptyCaption    = "empty_caption"
	RejectNullCaption     = "null_caption"
	RejectInvalidUTF8     = "invalid_utf8"
	RejectInvalidJSON     = "invalid_json"
	RejectCorruptMember   = wds.FaultCorruptMember
	RejectDuplicateMember = wds.FaultDuplicateMember
	RejectMemberTooLarge  = wds.FaultMemberTooLarge

	ShardUnreadable = "shard_unreadable" // could not be opened or read
	ShardTruncated  = "shard_truncated"  // ended early; samples before the cut are counted
	ShardBadFormat  = "shard_bad_format" // not a tar/tar.gz/Parquet file
	ShardNoColumn   = "shard_no_caption_column"
)

// IsShardReason reports whether a reject reason counts shards, not samples.
func IsShardReason(reason string) bool { return strings.HasPrefix(reason, "shard_") }

// Image-side reject reasons: the sample's caption is still counted for
// text_count; only the image-side columns miss it.
const (
	RejectImageMissing     = "image_missing"
	RejectImageDecode      = "image_decode_failed"
	RejectImageUnsupported = "image_unsupported_format"
	RejectImageTooLarge    = "image_too_large"
	RejectImageNoScores    = "image_no_saved_scores"
)

// IsImageReason reports whether a reject reason is image-side (the sample's
// text was counted).
func IsImageReason(reason string) bool { return strings.HasPrefix(reason, "image_") }

// Stats are the per-shard (and, merged, per-run) tallies. Every sample read
// is either counted (SamplesWithCaption) or rejected for its caption:
// SamplesRead == SamplesWithCaption + caption rejects. With image tagging,
// SamplesRead == ImagesTagged + image rejects as well.
type Stats struct {
	ShardsRead             int64            `json:"shards_read"`
	ShardsFailed           int64            `json:"shards_failed"`
	SamplesRead            int64            `json:"samples_read"`
	SamplesWithCaption     int64            `json:"samples_with_caption"`
	SamplesMatched         int64            `json:"samples_with_concept"`
	ImagesTagged           int64            `json:"images_tagged"`
	ImagesWithConcept      int64            `json:"images_with_concept"`
	MisalignmentConsidered int64            `json:"misalignment_considered"`
	Misaligned             int64            `json:"misaligned_samples"`
	Rejects                map[string]int64 `json:"rejects"`
}

// Merge adds o into s.
func (s *Stats) Merge(o Stats) {
	s.ShardsRead += o.ShardsRead
	s.ShardsFailed += o.ShardsFailed
	s.SamplesRead += o.SamplesRead
	s.SamplesWithCaption += o.SamplesWithCaption
	s.SamplesMatched += o.SamplesMatched
	s.ImagesTagged += o.ImagesTagged
	s.ImagesWithConcept += o.ImagesWithConcept
	s.MisalignmentConsidered += o.MisalignmentConsidered
	s.Misaligned += o.Misaligned
	for k, v := range o.Rejects {
		if s.Rejects == nil {
			s.Rejects = map[string]int64{}
		}
		s.Rejects[k] += v
	}
}

// Tally is one concept's counts. The image-side fields count only samples
// whose image was tagged.
type Tally struct {
	Text      int64 // caption mentions the concept
	Image     int64 // tagger scores the concept above the threshold
	Matched   int64 // both
	TextOnly  int64 // caption, not image (tagged samples only)
	ImageOnly int64 // image, not caption
}

// Add adds o into t.
func (t *Tally) Add(o Tally) {
	t.Text += o.Text
	t.Image += o.Image
	t.Matched += o.Matched
	t.TextOnly += o.TextOnly
	t.ImageOnly += o.ImageOnly
}

// IsZero reports whether every count is zero.
func (t Tally) IsZero() bool { return t == Tally{} }

// Opener opens a file by path; the Beam layer passes its filesystem.
type Opener func(ctx context.Context, path string) (io.ReadCloser, error)

// Emitters receive what ProcessShard produces besides counts. Score and
// Sample may be nil.
type Emitters struct {
	Reject func(tables.Reject)
	Score  func(tables.ScoreRow)
	Sample func(tables.SampleRow)
}

// Processor counts the concepts in one shard at a time. It holds
// per-goroutine scratch space: use one Processor per goroutine.
type Processor struct {
	Matcher       *caption.Matcher
	Names         []string // vocabulary names, for emitted rows
	CaptionExt    string   // WebDataset member holding the caption, default "txt"
	CaptionColumn string   // Parquet caption column, default auto-detected
	EmitSamples   bool     // emit a SampleRow per sample (text-only runs; tagged samples with Image)
	Image         *ImageSide

	sc      *caption.Scratch
	matched []int
	img     imageState
}

// ShardFormat is how a shard is read.
type ShardFormat int

// Shard formats.
const (
	FormatUnknown ShardFormat = iota
	FormatWebDataset
	FormatParquet
)

// FormatOf guesses a shard's format from its name.
func FormatOf(path string) ShardFormat {
	p := strings.ToLower(path)
	switch {
	case strings.HasSuffix(p, ".parquet"):
		return FormatParquet
	case strings.HasSuffix(p, ".tar"), strings.HasSuffix(p, ".tar.gz"), strings.HasSuffix(p, ".tgz"):
		return FormatWebDataset
	}
	return FormatUnknown
}

// shardRun is the state of one ProcessShard call.
type shardRun struct {
	p      *Processor
	path   string
	counts []Tally
	out    Emitters
	st     Stats
}

func (r *shardRun) reject(key, reason, detail string) {
	r.st.Rejects[reason]++
	r.out.Reject(tables.Reject{Shard: r.path, Key: key, Reason: reason, Detail: detail})
}

// sample handles one sample: its caption (ok false when rejected) and, for
// WebDataset samples, its members.
func (r *shardRun) sample(key, text string, ok bool, members map[string][]byte) error {
	p := r.p
	var textConcepts []int
	if ok {
		r.st.SamplesWithCaption++
		p.matched = p.Matcher.Match(text, p.sc, p.matched[:0])
		if len(p.matched) > 0 {
			r.st.SamplesMatched++
		}
		for _, ci := range p.matched {
			r.counts[ci].Text++
		}
		textConcepts = p.matched
	}
	if p.Image == nil {
		if ok && p.EmitSamples && r.out.Sample != nil {
			names := make([]string, len(textConcepts))
			for i, c := range textConcepts {
				names[i] = p.Names[c]
			}
			r.out.Sample(tables.SampleRow{Shard: r.path, Key: key, Caption: text, TextConcepts: names})
		}
		return nil
	}
	return r.image(key, text, textConcepts, members)
}

// ProcessShard reads one shard, tallies every sample's concepts into counts
// (one slot per vocabulary concept) and reports every sample it cannot
// count, and optional score and sample rows, to out. With image tagging,
// images queue into batches that run when full, whatever shard they came
// from (their tallies land in the counts of the call that runs the batch);
// call Flush for the last, partial batch.
//
// Problems with the shard itself become a shard-level reject; the returned
// error is for failures that are not the data's fault (the image tagger
// failing), which should stop the job.
func (p *Processor) ProcessShard(ctx context.Context, open Opener, path string, counts []Tally, out Emitters) (Stats, error) {
	if p.sc == nil {
		p.sc = p.Matcher.NewScratch()
	}
	r := &shardRun{p: p, path: path, counts: counts, out: out, st: Stats{Rejects: map[string]int64{}}}
	err := r.run(ctx, open)
	var se *shardError
	switch {
	case err == nil:
		r.st.ShardsRead++
	case errors.As(err, &se):
		r.st.ShardsFailed++
		r.st.Rejects[se.reason]++
		out.Reject(tables.Reject{Shard: path, Reason: se.reason, Detail: err.Error()})
	default:
		return r.st, fmt.Errorf("count: shard %s: %w", path, err)
	}
	return r.st, nil
}

type shardError struct {
	reason string
	err    error
}

func (e *shardError) Error() string { return e.err.Error() }
func (e *shardError) Unwrap() error { return e.err }

func fail(reason string, err error) error { return &shardError{reason: reason, err: err} }

func (r *shardRun) run(ctx context.Context, open Opener) error {
	p, path := r.p, r.path
	rc, err := open(ctx, path)
	if err != nil {
		return fail(ShardUnreadable, fmt.Errorf("open %s: %w", path, err))
	}
	defer rc.Close()

	br := bufio.NewReaderSize(rc, 256<<10) // room to sniff the format
	format := FormatOf(path)
	if format == FormatUnknown {
		if head, _ := br.Peek(4); string(head) == "PAR1" {
			format = FormatParquet
		} else {
			format = FormatWebDataset
		}
	}

	if format == FormatParquet {
		data, err := io.ReadAll(br)
		if err != nil {
			return fail(ShardUnreadable, fmt.Errorf("read %s: %w", path, err))
		}
		pr, err := captionpq.NewReader(ctx, bytes.NewReader(data), path, captionpq.Options{CaptionColumn: p.CaptionColumn})
		if err != nil {
			if errors.Is(err, captionpq.ErrNoCaptionColumn) {
				return fail(ShardNoColumn, err)
			}
			return fail(ShardBadFormat, err)
		}
		defer pr.Close()
		for {
			row, err := pr.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fail(ShardUnreadable, err)
			}
			r.st.SamplesRead++
			ok := false
			switch {
			case row.Null:
				r.reject(row.Key, RejectNullCaption, "caption is null")
			case !utf8.ValidString(row.Caption):
				r.reject(row.Key, RejectInvalidUTF8, "caption is not valid UTF-8")
			case strings.TrimSpace(row.Caption) == "":
				r.reject(row.Key, RejectEmptyCaption, "caption is empty")
			default:
				ok = true
			}
			if err := r.sample(row.Key, row.Caption, ok, nil); err != nil {
				return err
			}
		}
	}

	wr, err := wds.NewReader(br, path, wds.Options{})
	if err != nil {
		if errors.Is(err, wds.ErrTruncated) {
			return fail(ShardTruncated, err)
		}
		return fail(ShardBadFormat, err)
	}
	ext := p.CaptionExt
	if ext == "" {
		ext = "txt"
	}
	for {
		s, err := wr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			switch {
			case errors.Is(err, wds.ErrTruncated):
				return fail(ShardTruncated, err)
			case errors.Is(err, wds.ErrFormat):
				return fail(ShardBadFormat, err)
			}
			return fail(ShardUnreadable, err)
		}
		r.st.SamplesRead++
		text, reason, detail := CaptionOf(s, ext)
		if reason != "" {
			r.reject(s.Key, reason, detail)
		}
		if err := r.sample(s.Key, text, reason == "", s.Members); err != nil {
			return err
		}
	}
}

// CaptionOf returns the caption of a WebDataset sample: the trimmed UTF-8
// text of its ext member, else the "caption" field of its json member. When
// there is none, reason says why and detail gives specifics.
func CaptionOf(s *wds.Sample, ext string) (text, reason, detail string) {
	if len(s.Faults) > 0 {
		f := s.Faults[0]
		return "", f.Reason, fmt.Sprintf("member %s: %s", f.Member, f.Detail)
	}
	if b, ok := s.Members[ext]; ok {
		return checkText(b, "."+ext)
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
		return checkText([]byte(c), ".json caption")
	}
	return "", RejectNoCaption, fmt.Sprintf("no .%s or .json member (members: %s)", ext, memberList(s))
}

func checkText(b []byte, where string) (string, string, string) {
	if !utf8.Valid(b) {
		return "", RejectInvalidUTF8, where + " is not valid UTF-8"
	}
	t := strings.TrimSpace(strings.TrimPrefix(string(b), "\ufeff"))
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
