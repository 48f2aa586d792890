// Package pqtest builds small Parquet files for tests.
package pqtest

import (
	"bytes"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// Write returns a Parquet file of one record batch of schema, filled by
// fill, written with arrow-go's default writer properties.
func Write(t testing.TB, schema *arrow.Schema, fill func(b *array.RecordBuilder)) []byte {
	t.Helper()
	return WriteWith(t, schema, nil, fill)
}

// WriteWith is Write with the writer properties props (nil: arrow-go's
// defaults).
func WriteWith(t testing.TB, schema *arrow.Schema, props *parquet.WriterProperties, fill func(b *array.RecordBuilder)) []byte {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	fill(b)
	rec := b.NewRecordBatch()
	defer rec.Release()
	var out bytes.Buffer
	fw, err := pqarrow.NewFileWriter(schema, &out, props, pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := fw.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
