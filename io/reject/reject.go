// Package reject is the one table of reasons a sample, an image or a shard
// could not be used: its name (the reason column of rejects/), its level
// and what it means. The readers, the count and eval jobs, their reports
// and docs/outputs.md all take the reasons from here; a test holds the
// docs to the table.
package reject

import "strings"

// Level says what a reason counts and what it costs.
type Level string

// Levels.
const (
	// Sample: the sample's caption (count) or label (eval) could not be
	// taken; the sample is not counted.
	Sample Level = "sample"
	// Image: the image could not be tagged or evaluated; in a count run
	// the caption was counted (text_count), only the image side misses it.
	Image Level = "image"
	// Shard: the shard ended early or could not be read; the samples read
	// before the failure are kept. Counted in shards, not samples.
	Shard Level = "shard"
)

// Reason names, as written in the reason column of rejects/.
const (
	NoCaption       = "no_caption"
	EmptyCaption    = "empty_caption"
	NullCaption     = "null_caption"
	InvalidUTF8     = "invalid_utf8"
	InvalidJSON     = "invalid_json"
	CorruptMember   = "corrupt_member"
	DuplicateMember = "duplicate_member"
	MemberTooLarge  = "member_too_large"
	UnsafePath      = "unsafe_member_path"
	CaptionTooLarge = "caption_too_large"
	SampleTruncated = "sample_truncated"
	NoLabel         = "no_label"
	BadLabel        = "bad_label"

	ImageMissing     = "image_missing"
	ImageDecode      = "image_decode_failed"
	ImageUnsupported = "image_unsupported_format"
	ImageTooLarge    = "image_too_large"
	ImageNoScores    = "image_no_saved_scores"

	ShardUnreadable = "shard_unreadable"
	ShardMissing    = "shard_missing"
	ShardEmpty      = "shard_empty"
	ShardTruncated  = "shard_truncated"
	ShardBadFormat  = "shard_bad_format"
	ShardNoColumn   = "shard_no_caption_column"
	ShardGzipBomb   = "shard_gzip_bomb"
)

// Reason is one row of the table.
type Reason struct {
	Name    string
	Level   Level
	Meaning string
	// Commands names the jobs that give it: count, eval or both.
	Commands string
}

// Reasons is the table, in the order the docs list it.
var Reasons = []Reason{
	{NoCaption, Sample, "no caption member (.txt, or --caption_ext) and no caption field in the .json member; eval --task=retrieval: no .txt of caption lines and no .json captions list", "count, eval"},
	{EmptyCaption, Sample, "the caption is empty or only whitespace", "count"},
	{NullCaption, Sample, "the Parquet caption is null", "count"},
	{InvalidUTF8, Sample, "the caption is not valid UTF-8", "count"},
	{InvalidJSON, Sample, "the .json member does not parse", "count"},
	{CorruptMember, Sample, "a gzip-compressed member (.txt.gz) does not decompress; a text-only run skips image members unread, so there only a caption or .json member counts", "count"},
	{DuplicateMember, Sample, "two members of a sample have the same extension", "count"},
	{MemberTooLarge, Sample, "a member is over 256 MiB", "count"},
	{UnsafePath, Sample, "a member path with '..' or an absolute path", "count"},
	{CaptionTooLarge, Sample, "a caption over 1 MiB: not a caption; never matched, memory bounded", "count"},
	{SampleTruncated, Sample, "the shard's damage cut this sample short", "count"},
	{NoLabel, Sample, "no cls, txt or json label member", "eval"},
	{BadLabel, Sample, "a label that is not a class index or a class name of --classes", "eval"},
	{ImageMissing, Image, "no image member (jpg, jpeg, png, webp, gif)", "count, eval"},
	{ImageDecode, Image, "the image does not decode", "count, eval"},
	{ImageUnsupported, Image, "an image format that is not read", "count"},
	{ImageTooLarge, Image, "the image header declares more pixels than --max_pixels: never decoded", "count, eval"},
	{ImageNoScores, Image, "a recount (--scores) found no saved scores for the sample", "count"},
	{ShardUnreadable, Shard, "the shard could not be opened or read", "count, eval"},
	{ShardMissing, Shard, "a shard named by a brace range ({00000..41407}) is not there", "count, eval"},
	{ShardEmpty, Shard, "the shard is a file of zero bytes", "count, eval"},
	{ShardTruncated, Shard, "the shard ends early; samples wholly before the cut are kept", "count, eval"},
	{ShardBadFormat, Shard, "not a tar, tar.gz or Parquet file: a corrupt gzip stream or header, a bad tar header checksum, garbage", "count, eval"},
	{ShardNoColumn, Shard, "a Parquet file without a text caption column (none of the names looked for, or one of another type: integer, list, struct)", "count"},
	{ShardGzipBomb, Shard, "a .tar.gz that inflates more than 500:1 past 256 MiB: stopped there, in bounded time and memory", "count, eval"},
}

// Lookup returns the reason named name.
func Lookup(name string) (Reason, bool) {
	for _, r := range Reasons {
		if r.Name == name {
			return r, true
		}
	}
	return Reason{}, false
}

// Meaning is what the reason named name means ("" for an unknown name).
func Meaning(name string) string {
	r, _ := Lookup(name)
	return r.Meaning
}

// IsShard reports whether a reason counts shards, not samples.
func IsShard(name string) bool { return strings.HasPrefix(name, "shard_") }
