package tables

import (
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// NearDuplicatesFile names the near_duplicates/ parts' table.
const NearDuplicatesFile = "near_duplicates.parquet"

// NearRow is one row of near_duplicates/: a pretraining sample whose
// image is at least the reporting floor (--near_floor) similar to a test
// image, the most similar test image, and whether the sample is a
// near-duplicate (similarity ≥ --near_threshold: left out of the
// _dissimilar counts).
type NearRow struct {
	Shard         string
	Key           string
	Dataset       string // the test image's test set
	TestKey       string // the test image's key in it
	TestLabel     string // its label ("" written as null)
	Similarity    float32
	NearDuplicate bool
}

// NearDuplicatesSchema is the Arrow schema of the near_duplicates/ parts.
var NearDuplicatesSchema = arrow.NewSchema([]arrow.Field{
	{Name: "shard", Type: arrow.BinaryTypes.String},
	{Name: "key", Type: arrow.BinaryTypes.String},
	{Name: "test_dataset", Type: arrow.BinaryTypes.String},
	{Name: "test_key", Type: arrow.BinaryTypes.String},
	{Name: "test_label", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "similarity", Type: arrow.PrimitiveTypes.Float32},
	{Name: "near_duplicate", Type: arrow.FixedWidthTypes.Boolean},
}, nil)

// NewNearWriter starts a near_duplicates part on w.
func NewNearWriter(w io.Writer, mem memory.Allocator) (*RowWriter, error) {
	return newRowWriter(w, NearDuplicatesFile, NearDuplicatesSchema, mem)
}

// WriteNear adds one near_duplicates row.
func (rw *RowWriter) WriteNear(r NearRow) error {
	if rw.err != nil {
		return rw.err
	}
	for i, v := range []string{r.Shard, r.Key, r.Dataset, r.TestKey} {
		rw.b.Field(i).(*array.StringBuilder).Append(ValidUTF8(v))
	}
	if r.TestLabel == "" {
		rw.b.Field(4).(*array.StringBuilder).AppendNull()
	} else {
		rw.b.Field(4).(*array.StringBuilder).Append(ValidUTF8(r.TestLabel))
	}
	rw.b.Field(5).(*array.Float32Builder).Append(r.Similarity)
	rw.b.Field(6).(*array.BooleanBuilder).Append(r.NearDuplicate)
	return rw.row()
}

// ReadNearDuplicates reads a near_duplicates part, calling each for every
// row.
func ReadNearDuplicates(data []byte, each func(NearRow) error) error {
	rr, release, err := recordReader(data, NearDuplicatesFile, NearDuplicatesSchema)
	if err != nil {
		return err
	}
	defer release()
	for rr.Next() {
		rec := rr.RecordBatch()
		var str [5]*array.String
		ok := true
		for i := range str {
			str[i], ok = rec.Column(i).(*array.String)
			if !ok {
				break
			}
		}
		sim, ok2 := rec.Column(5).(*array.Float32)
		near, ok3 := rec.Column(6).(*array.Boolean)
		if !ok || !ok2 || !ok3 {
			return fmt.Errorf("tables: %s: schema %v, want %v", NearDuplicatesFile, rec.Schema(), NearDuplicatesSchema)
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			r := NearRow{Shard: str[0].Value(i), Key: str[1].Value(i), Dataset: str[2].Value(i), TestKey: str[3].Value(i),
				Similarity: sim.Value(i), NearDuplicate: near.Value(i)}
			if !str[4].IsNull(i) {
				r.TestLabel = str[4].Value(i)
			}
			if err := each(r); err != nil {
				return err
			}
		}
	}
	if err := rr.Err(); err != nil && err != io.EOF {
		return fmt.Errorf("tables: %s: %w", NearDuplicatesFile, err)
	}
	return nil
}
