package count

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// Stats are the per-shard (and, merged, per-run) tallies. Every sample read
// is either counted (SamplesWithCaption) or rejected:
// SamplesRead == SamplesWithCaption + sum of sample-level Rejects.
type Stats struct {
	ShardsRead         int64            `json:"shards_read"`
	ShardsFailed       int64            `json:"shards_failed"`
	SamplesRead        int64            `json:"samples_read"`
	SamplesWithCaption int64            `json:"samples_with_caption"`
	SamplesMatched     int64            `json:"samples_with_concept"`
	Rejects            map[string]int64 `json:"rejects"`
}

// Merge adds o into s.
func (s *Stats) Merge(o Stats) {
	s.ShardsRead += o.ShardsRead
	s.ShardsFailed += o.ShardsFailed
	s.SamplesRead += o.SamplesRead
	s.SamplesWithCaption += o.SamplesWithCaption
	s.SamplesMatched += o.SamplesMatched
	for k, v := range o.Rejects {
		if s.Rejects == nil {
			s.Rejects = map[string]int64{}
		}
		s.Rejects[k] += v
	}
}

// Opener opens a file by path; the Beam layer passes its filesystem.
type Opener func(ctx context.Context, path string) (io.ReadCloser, error)

// Processor counts the concepts in the captions of one shard at a time. It
// holds per-goroutine scratch space: use one Processor per goroutine.
type Processor struct {
	Matcher       *caption.Matcher
	CaptionExt    string // WebDataset member holding the caption, default "txt"
	CaptionColumn string // Parquet caption column, default auto-detected

	sc      *caption.Scratch
	matched []int
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

// ProcessShard reads one shard, adds one to counts[i] for every sample whose
// caption mentions concept i, and reports every sample it cannot count to
// reject. counts must have one slot per vocabulary concept.
func (p *Processor) ProcessShard(ctx context.Context, open Opener, path string, counts []int64, reject func(tables.Reject)) Stats {
	if p.sc == nil {
		p.sc = p.Matcher.NewScratch()
	}
	st := Stats{Rejects: map[string]int64{}}
	rejectSample := func(key, reason, detail string) {
		st.Rejects[reason]++
		reject(tables.Reject{Shard: path, Key: key, Reason: reason, Detail: detail})
	}
	failShard := func(reason string, err error) Stats {
		st.ShardsFailed++
		st.Rejects[reason]++
		reject(tables.Reject{Shard: path, Reason: reason, Detail: err.Error()})
		return st
	}
	rc, err := open(ctx, path)
	if err != nil {
		return failShard(ShardUnreadable, fmt.Errorf("open %s: %w", path, err))
	}
	defer rc.Close()

	br := newPeekReader(rc)
	format := FormatOf(path)
	if format == FormatUnknown {
		if head, _ := br.Peek(4); string(head) == "PAR1" {
			format = FormatParquet
		} else {
			format = FormatWebDataset
		}
	}
	countCaption := func(text string) {
		st.SamplesWithCaption++
		p.matched = p.Matcher.Match(text, p.sc, p.matched[:0])
		if len(p.matched) > 0 {
			st.SamplesMatched++
		}
		for _, ci := range p.matched {
			counts[ci]++
		}
	}

	if format == FormatParquet {
		data, err := io.ReadAll(br)
		if err != nil {
			return failShard(ShardUnreadable, fmt.Errorf("read %s: %w", path, err))
		}
		r, err := captionpq.NewReader(ctx, bytes.NewReader(data), path, captionpq.Options{CaptionColumn: p.CaptionColumn})
		if err != nil {
			if errors.Is(err, captionpq.ErrNoCaptionColumn) {
				return failShard(ShardNoColumn, err)
			}
			return failShard(ShardBadFormat, err)
		}
		defer r.Close()
		for {
			row, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return failShard(ShardUnreadable, err)
			}
			st.SamplesRead++
			switch {
			case row.Null:
				rejectSample(row.Key, RejectNullCaption, "caption is null")
			case !utf8.ValidString(row.Caption):
				rejectSample(row.Key, RejectInvalidUTF8, "caption is not valid UTF-8")
			case strings.TrimSpace(row.Caption) == "":
				rejectSample(row.Key, RejectEmptyCaption, "caption is empty")
			default:
				countCaption(row.Caption)
			}
		}
		st.ShardsRead++
		return st
	}

	r, err := wds.NewReader(br, path, wds.Options{})
	if err != nil {
		if errors.Is(err, wds.ErrTruncated) {
			return failShard(ShardTruncated, err)
		}
		return failShard(ShardBadFormat, err)
	}
	ext := p.CaptionExt
	if ext == "" {
		ext = "txt"
	}
	for {
		s, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			switch {
			case errors.Is(err, wds.ErrTruncated):
				return failShard(ShardTruncated, err)
			case errors.Is(err, wds.ErrFormat):
				return failShard(ShardBadFormat, err)
			}
			return failShard(ShardUnreadable, err)
		}
		st.SamplesRead++
		text, reason, detail := CaptionOf(s, ext)
		if reason != "" {
			rejectSample(s.Key, reason, detail)
			continue
		}
		countCaption(text)
	}
	st.ShardsRead++
	return st
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
	sortStrings(exts)
	return strings.Join(exts, ",")
}
