// Package tables writes conceptfreq's Parquet outputs with arrow-go's pqarrow:
// concept_counts.parquet and the row outputs (rejects, image scores, sample
// concepts). Column names are a contract with
// downstream notebooks; see the README.
package tables

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
)

// File names written into a run's output directory.
const (
	ConceptCountsFile = "concept_counts.parquet"
	RejectsFile       = "rejects.parquet"
	RunStatsFile      = "run_stats.json"
)

// Row outputs that grow with the crawl are directories of Parquet parts,
// written by the workers in parallel: one part per input shard that has
// rows (PartName), and SchemaPart, a part of zero rows that carries the
// schema, so that the directory reads as one table with a glob
// ('out/rejects/*.parquet' in DuckDB, pandas.read_parquet('out/rejects'))
// even when no shard had a row.
const (
	RejectsDir        = "rejects"
	ImageScoresDir    = "image_scores"
	SampleConceptsDir = "sample_concepts"
	NearDuplicatesDir = "near_duplicates"
	SchemaPart        = "part-schema.parquet"
)

// RowDirs are the row output directories, in the order a run lists them.
var RowDirs = []string{RejectsDir, ImageScoresDir, SampleConceptsDir, NearDuplicatesDir}

// PartName is the name of the part holding an input shard's rows: the
// shard's base name (for people) and a hash of its full path (so that
// shards of one name in different folders do not collide), stable across
// runs and retries, so a retried write replaces its part.
func PartName(shard string) string {
	shard = ValidUTF8(shard) // the name its rows carry: a part is found by either
	base := shard[strings.LastIndexAny(shard, `/\`)+1:]
	clean := strings.Map(func(r rune) rune {
		if r == '.' || r == '-' || r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			return r
		}
		return '_'
	}, base)
	if len(clean) > 64 {
		clean = clean[:64]
	}
	sum := sha256.Sum256([]byte(shard))
	return "part-" + clean + "-" + hex.EncodeToString(sum[:8]) + ".parquet"
}

// RowGroupRows is the row-group length used by the writers.
const RowGroupRows = 64 * 1024

// ConceptCount is one row of concept_counts.parquet. Image-side counts are
// nil when no image tagging ran (or the tagger does not know the concept).
// The _dissimilar counts are the same counts over the samples that are not
// near-duplicates of a test image (similarity control,
// --near_duplicates); nil when the run had no similarity control (and,
// for the image and matched ones, for concepts the tagger does not know).
type ConceptCount struct {
	Concept                string
	TextCount              int64
	ImageCount             *int64
	MatchedCount           *int64
	TextOnlyCount          *int64
	ImageOnlyCount         *int64
	TextCountDissimilar    *int64
	ImageCountDissimilar   *int64
	MatchedCountDissimilar *int64
}

// ConceptCountsSchema is the Arrow schema of concept_counts.parquet.
var ConceptCountsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "concept", Type: arrow.BinaryTypes.String},
	{Name: "text_count", Type: arrow.PrimitiveTypes.Int64},
	{Name: "image_count", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "matched_count", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "text_only_count", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "image_only_count", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "text_count_dissimilar", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "image_count_dissimilar", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "matched_count_dissimilar", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

// conceptCountsRequired is how many of ConceptCountsSchema's columns a
// concept_counts.parquet must have: files of runs before similarity
// control end at image_only_count (their _dissimilar counts read as nil).
const conceptCountsRequired = 6

// Reject is one row of rejects.parquet: a sample (or, with an empty key, a
// whole shard) that could not be counted, and why.
type Reject struct {
	Shard  string
	Key    string
	Reason string
	Detail string
}

// RejectsSchema is the Arrow schema of rejects.parquet.
var RejectsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "shard", Type: arrow.BinaryTypes.String},
	{Name: "key", Type: arrow.BinaryTypes.String},
	{Name: "reason", Type: arrow.BinaryTypes.String},
	{Name: "detail", Type: arrow.BinaryTypes.String},
}, nil)

// writeOnly hides Close from pqarrow, which would otherwise close the
// caller's writer and leave the caller's commit (Close) to fail.
type writeOnly struct{ io.Writer }

// writerProps are the Parquet settings of every output: zstd, explicit
// row-group length, statistics on.
func writerProps(mem memory.Allocator) *parquet.WriterProperties {
	return parquet.NewWriterProperties(
		parquet.WithAllocator(mem),
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithMaxRowGroupLength(RowGroupRows),
		parquet.WithStats(true),
		parquet.WithCreatedBy("conceptfreq"),
	)
}

// WriteConceptCounts writes rows as concept_counts.parquet to w. It does not
// close w.
func WriteConceptCounts(w io.Writer, rows []ConceptCount, mem memory.Allocator) error {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	b := array.NewRecordBuilder(mem, ConceptCountsSchema)
	defer b.Release()
	concept := b.Field(0).(*array.StringBuilder)
	text := b.Field(1).(*array.Int64Builder)
	opt := func(i int, v *int64) {
		ib := b.Field(i).(*array.Int64Builder)
		if v == nil {
			ib.AppendNull()
		} else {
			ib.Append(*v)
		}
	}
	for _, r := range rows {
		concept.Append(ValidUTF8(r.Concept))
		text.Append(r.TextCount)
		opt(2, r.ImageCount)
		opt(3, r.MatchedCount)
		opt(4, r.TextOnlyCount)
		opt(5, r.ImageOnlyCount)
		opt(6, r.TextCountDissimilar)
		opt(7, r.ImageCountDissimilar)
		opt(8, r.MatchedCountDissimilar)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	return writeRecord(w, ConceptCountsSchema, rec, mem, ConceptCountsFile)
}

// NewRejectWriter starts rejects.parquet on w; add rows with WriteReject.
// Close must be called, and its error checked, to finish the file; it does
// not close w. Memory stays bounded however many rejects a run has.
func NewRejectWriter(w io.Writer, mem memory.Allocator) (*RowWriter, error) {
	return newRowWriter(w, RejectsFile, RejectsSchema, mem)
}

// WriteReject adds one rejects.parquet row.
func (rw *RowWriter) WriteReject(r Reject) error {
	if rw.err != nil {
		return rw.err
	}
	for i, v := range []string{r.Shard, r.Key, r.Reason, r.Detail} {
		rw.b.Field(i).(*array.StringBuilder).Append(ValidUTF8(v))
	}
	return rw.row()
}
