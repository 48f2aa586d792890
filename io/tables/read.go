package tables

import (
	"context"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// readTable reads a whole (small) Parquet file and checks that it has the
// named columns.
func readTable(r parquet.ReaderAtSeeker, mem memory.Allocator, name string, want *arrow.Schema) (arrow.Table, error) {
	return readTableMin(r, mem, name, want, want.NumFields())
}

// readTableMin is readTable where only want's first required columns must
// be there (a file of an older version); the rest, when present, must
// match too.
func readTableMin(r parquet.ReaderAtSeeker, mem memory.Allocator, name string, want *arrow.Schema, required int) (arrow.Table, error) {
	tbl, err := wholeTable(r, mem, "not a "+name, name)
	if err != nil {
		return nil, err
	}
	for i, f := range want.Fields() {
		if i >= required && i >= int(tbl.NumCols()) {
			break
		}
		if i >= int(tbl.NumCols()) || tbl.Schema().Field(i).Name != f.Name || !arrow.TypeEqual(tbl.Schema().Field(i).Type, f.Type) {
			tbl.Release()
			return nil, fmt.Errorf("tables: not a %s: its columns are %v, want %v", name, typedNames(tbl.Schema()), typedNames(want))
		}
	}
	return tbl, nil
}

// ReadConceptCounts reads a concept_counts.parquet file.
func ReadConceptCounts(r parquet.ReaderAtSeeker, mem memory.Allocator) ([]ConceptCount, error) {
	tbl, err := readTableMin(r, mem, ConceptCountsFile, ConceptCountsSchema, conceptCountsRequired)
	if err != nil {
		return nil, err
	}
	defer tbl.Release()
	tr := array.NewTableReader(tbl, 0)
	defer tr.Release()
	var out []ConceptCount
	opt := func(a arrow.Array, i int) *int64 {
		c := a.(*array.Int64)
		if c.IsNull(i) {
			return nil
		}
		v := c.Value(i)
		return &v
	}
	for tr.Next() {
		rec := tr.RecordBatch()
		names := rec.Column(0).(*array.String)
		text := rec.Column(1).(*array.Int64)
		for i := 0; i < int(rec.NumRows()); i++ {
			out = append(out, ConceptCount{
				Concept:        names.Value(i),
				TextCount:      text.Value(i),
				ImageCount:     opt(rec.Column(2), i),
				MatchedCount:   opt(rec.Column(3), i),
				TextOnlyCount:  opt(rec.Column(4), i),
				ImageOnlyCount: opt(rec.Column(5), i),
			})
			if rec.NumCols() > 8 {
				r := &out[len(out)-1]
				r.TextCountDissimilar = opt(rec.Column(6), i)
				r.ImageCountDissimilar = opt(rec.Column(7), i)
				r.MatchedCountDissimilar = opt(rec.Column(8), i)
			}
		}
	}
	return out, tr.Err()
}

// ReadRejects reads a rejects.parquet file.
func ReadRejects(r parquet.ReaderAtSeeker, mem memory.Allocator) ([]Reject, error) {
	tbl, err := readTable(r, mem, RejectsFile, RejectsSchema)
	if err != nil {
		return nil, err
	}
	defer tbl.Release()
	tr := array.NewTableReader(tbl, 0)
	defer tr.Release()
	var out []Reject
	for tr.Next() {
		rec := tr.RecordBatch()
		col := func(j int) *array.String { return rec.Column(j).(*array.String) }
		for i := 0; i < int(rec.NumRows()); i++ {
			out = append(out, Reject{Shard: col(0).Value(i), Key: col(1).Value(i), Reason: col(2).Value(i), Detail: col(3).Value(i)})
		}
	}
	return out, tr.Err()
}

// typedNames lists a schema's columns as name:type.
func typedNames(s *arrow.Schema) []string {
	out := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		out[i] = f.Name + ":" + f.Type.String()
	}
	return out
}

// wholeTable reads a whole (small) Parquet file, whatever its columns;
// what names the file in the error when it is not Parquet at all.
func wholeTable(r parquet.ReaderAtSeeker, mem memory.Allocator, what, name string) (arrow.Table, error) {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	pf, err := file.NewParquetReader(r, file.WithReadProps(parquet.NewReaderProperties(mem)))
	if err != nil {
		return nil, fmt.Errorf("tables: %s: not a readable Parquet file (%v)", what, err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, mem)
	if err != nil {
		return nil, fmt.Errorf("tables: %s: %w", name, err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		return nil, fmt.Errorf("tables: %s: %w", name, err)
	}
	return tbl, nil
}

// writeRecord writes one record batch as a Parquet file with the outputs'
// settings; it does not close w.
func writeRecord(w io.Writer, schema *arrow.Schema, rec arrow.RecordBatch, mem memory.Allocator, name string) error {
	fw, err := pqarrow.NewFileWriter(schema, writeOnly{w}, writerProps(mem), pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem)))
	if err != nil {
		return fmt.Errorf("tables: %s: %w", name, err)
	}
	if err := fw.Write(rec); err != nil {
		fw.Close()
		return fmt.Errorf("tables: %s: %w", name, err)
	}
	if err := fw.Close(); err != nil {
		return fmt.Errorf("tables: %s: close: %w", name, err)
	}
	return nil
}

// floatList is row i of a list<float> or list<double> column.
func floatList(lists *array.List, i int, name, column string) ([]float32, error) {
	start, end := lists.ValueOffsets(i)
	v := make([]float32, 0, end-start)
	switch vals := lists.ListValues().(type) {
	case *array.Float32:
		for k := start; k < end; k++ {
			v = append(v, vals.Value(int(k)))
		}
	case *array.Float64:
		for k := start; k < end; k++ {
			v = append(v, float32(vals.Value(int(k))))
		}
	default:
		return nil, fmt.Errorf("tables: %s: %s values are %s, want float or double", name, column, vals.DataType())
	}
	return v, nil
}
