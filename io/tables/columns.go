package tables

import (
	"fmt"
	"io"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Column is one column of a small table written with WriteColumns. Exactly
// one of the slices is non-nil (an empty, non-nil slice gives a typed empty
// column). NaN float values are written as nulls.
type Column struct {
	Name     string
	Strings  []string
	Int64s   []int64
	Float64s []float64
	Bools    []bool
}

func (c Column) len() int {
	return max(len(c.Strings), len(c.Int64s), len(c.Float64s), len(c.Bools))
}

// WriteColumns writes the columns as one Parquet file (same settings as the
// other outputs). All columns must have the same length. name is used in
// error messages.
func WriteColumns(w io.Writer, name string, cols []Column, mem memory.Allocator) error {
	return WriteColumnsWith(w, name, cols, nil, mem)
}

// WriteColumnsWith is WriteColumns with prov as the file's key-value
// metadata.
func WriteColumnsWith(w io.Writer, name string, cols []Column, prov Provenance, mem memory.Allocator) error {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	fields := make([]arrow.Field, len(cols))
	n := -1
	for i, c := range cols {
		switch {
		case c.Strings != nil:
			fields[i] = arrow.Field{Name: c.Name, Type: arrow.BinaryTypes.String}
		case c.Int64s != nil:
			fields[i] = arrow.Field{Name: c.Name, Type: arrow.PrimitiveTypes.Int64}
		case c.Float64s != nil:
			fields[i] = arrow.Field{Name: c.Name, Type: arrow.PrimitiveTypes.Float64, Nullable: true}
		case c.Bools != nil:
			fields[i] = arrow.Field{Name: c.Name, Type: arrow.FixedWidthTypes.Boolean}
		default: // an empty table: a typed empty column is not knowable, use string
			fields[i] = arrow.Field{Name: c.Name, Type: arrow.BinaryTypes.String}
		}
		if n >= 0 && c.len() != n {
			return fmt.Errorf("tables: %s: column %s has %d rows, others %d", name, c.Name, c.len(), n)
		}
		n = c.len()
	}
	schema := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for i, c := range cols {
		switch fb := b.Field(i).(type) {
		case *array.StringBuilder:
			fb.AppendValues(validAll(c.Strings), nil)
		case *array.Int64Builder:
			fb.AppendValues(c.Int64s, nil)
		case *array.Float64Builder:
			for _, v := range c.Float64s {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					fb.AppendNull()
				} else {
					fb.Append(v)
				}
			}
		case *array.BooleanBuilder:
			fb.AppendValues(c.Bools, nil)
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	return writeRecord(w, prov.schema(schema), rec, mem, name)
}
