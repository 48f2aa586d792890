package tables

import (
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// WriteRecordForTest writes one record as a Parquet file, for tests that
// need a file of another schema (an older version's).
func WriteRecordForTest(w io.Writer, schema *arrow.Schema, rec arrow.RecordBatch) error {
	return writeRecord(w, schema, rec, memory.DefaultAllocator, "test")
}
