package tables

import (
	"bytes"
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

// Image-side output files.
const (
	ImageScoresFile    = "image_scores.parquet"
	SampleConceptsFile = "sample_concepts.parquet"
)

// ScoreRow is one row of image_scores.parquet: the tagger's scores of one
// sample above the score floor, as parallel slices.
type ScoreRow struct {
	Shard    string
	Key      string
	Concepts []string
	Scores   []float32
}

// SampleRow is one row of sample_concepts.parquet.
type SampleRow struct {
	Shard         string
	Key           string
	Caption       string
	TextConcepts  []string
	ImageConcepts []string
}

var scoreStruct = arrow.StructOf(
	arrow.Field{Name: "concept", Type: arrow.BinaryTypes.String},
	arrow.Field{Name: "score", Type: arrow.PrimitiveTypes.Float32},
)

// ImageScoresSchema is the Arrow schema of image_scores.parquet.
var ImageScoresSchema = arrow.NewSchema([]arrow.Field{
	{Name: "shard", Type: arrow.BinaryTypes.String},
	{Name: "key", Type: arrow.BinaryTypes.String},
	{Name: "scores", Type: arrow.ListOf(scoreStruct)},
}, nil)

// SampleConceptsSchema is the Arrow schema of sample_concepts.parquet.
var SampleConceptsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "shard", Type: arrow.BinaryTypes.String},
	{Name: "key", Type: arrow.BinaryTypes.String},
	{Name: "caption", Type: arrow.BinaryTypes.String},
	{Name: "text_concepts", Type: arrow.ListOf(arrow.BinaryTypes.String)},
	{Name: "image_concepts", Type: arrow.ListOf(arrow.BinaryTypes.String)},
}, nil)

// RowWriter streams rows of one of the output schemas into Parquet, a row
// group per RowGroupRows rows, so memory stays bounded.
type RowWriter struct {
	name string
	fw   *pqarrow.FileWriter
	b    *array.RecordBuilder
	n    int
	err  error
}

func newRowWriter(w io.Writer, name string, schema *arrow.Schema, mem memory.Allocator) (*RowWriter, error) {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	fw, err := pqarrow.NewFileWriter(schema, writeOnly{w}, writerProps(mem), pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem)))
	if err != nil {
		return nil, fmt.Errorf("tables: %s: %w", name, err)
	}
	return &RowWriter{name: name, fw: fw, b: array.NewRecordBuilder(mem, schema)}, nil
}

// NewScoreWriter starts image_scores.parquet on w.
func NewScoreWriter(w io.Writer, mem memory.Allocator) (*RowWriter, error) {
	return newRowWriter(w, ImageScoresFile, ImageScoresSchema, mem)
}

// NewSampleWriter starts sample_concepts.parquet on w.
func NewSampleWriter(w io.Writer, mem memory.Allocator) (*RowWriter, error) {
	return newRowWriter(w, SampleConceptsFile, SampleConceptsSchema, mem)
}

// WriteScore adds one image_scores row.
func (rw *RowWriter) WriteScore(r ScoreRow) error {
	if rw.err != nil {
		return rw.err
	}
	rw.b.Field(0).(*array.StringBuilder).Append(ValidUTF8(r.Shard))
	rw.b.Field(1).(*array.StringBuilder).Append(ValidUTF8(r.Key))
	lb := rw.b.Field(2).(*array.ListBuilder)
	sb := lb.ValueBuilder().(*array.StructBuilder)
	lb.Append(true)
	for i, c := range r.Concepts {
		sb.Append(true)
		sb.FieldBuilder(0).(*array.StringBuilder).Append(ValidUTF8(c))
		sb.FieldBuilder(1).(*array.Float32Builder).Append(r.Scores[i])
	}
	return rw.row()
}

// WriteSample adds one sample_concepts row.
func (rw *RowWriter) WriteSample(r SampleRow) error {
	if rw.err != nil {
		return rw.err
	}
	rw.b.Field(0).(*array.StringBuilder).Append(ValidUTF8(r.Shard))
	rw.b.Field(1).(*array.StringBuilder).Append(ValidUTF8(r.Key))
	rw.b.Field(2).(*array.StringBuilder).Append(ValidUTF8(r.Caption))
	for i, list := range [][]string{r.TextConcepts, r.ImageConcepts} {
		lb := rw.b.Field(3 + i).(*array.ListBuilder)
		lb.Append(true)
		lb.ValueBuilder().(*array.StringBuilder).AppendValues(validAll(list), nil)
	}
	return rw.row()
}

func (rw *RowWriter) row() error {
	rw.n++
	if rw.n >= RowGroupRows {
		rw.err = rw.flush()
	}
	return rw.err
}

func (rw *RowWriter) flush() error {
	if rw.n == 0 {
		return nil
	}
	rec := rw.b.NewRecordBatch()
	defer rec.Release()
	rw.n = 0
	if err := rw.fw.Write(rec); err != nil {
		return fmt.Errorf("tables: %s: %w", rw.name, err)
	}
	return nil
}

// Close flushes and writes the footer.
func (rw *RowWriter) Close() error {
	defer rw.b.Release()
	err := rw.err
	if err == nil {
		err = rw.flush()
	}
	if cerr := rw.fw.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("tables: %s: close: %w", rw.name, cerr)
	}
	return err
}

// recordReader opens a Parquet file of the named output for reading record
// batches, after checking that its columns are named as in want. Call
// release when done.
func recordReader(data []byte, name string, want *arrow.Schema) (rr pqarrow.RecordReader, release func(), err error) {
	pf, err := file.NewParquetReader(bytes.NewReader(data), file.WithReadProps(parquet.NewReaderProperties(memory.DefaultAllocator)))
	if err != nil {
		return nil, nil, fmt.Errorf("tables: %s: %w", name, err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 8192}, memory.DefaultAllocator)
	if err == nil {
		var sc *arrow.Schema
		if sc, err = fr.Schema(); err == nil {
			err = checkNames(sc, want)
		}
	}
	if err == nil {
		rr, err = fr.GetRecordReader(context.Background(), nil, nil)
	}
	if err != nil {
		pf.Close()
		return nil, nil, fmt.Errorf("tables: %s: %w", name, err)
	}
	return rr, func() { rr.Release(); pf.Close() }, nil
}

// checkNames checks that have's columns are want's, by name and in order.
func checkNames(have, want *arrow.Schema) error {
	if have.NumFields() != want.NumFields() {
		return fmt.Errorf("%d columns %v, want %v", have.NumFields(), names(have), names(want))
	}
	for i, f := range want.Fields() {
		if have.Field(i).Name != f.Name {
			return fmt.Errorf("column %d is %q, want %q (columns %v)", i, have.Field(i).Name, f.Name, names(have))
		}
	}
	return nil
}

func names(s *arrow.Schema) []string {
	out := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		out[i] = f.Name
	}
	return out
}

// ReadScores reads image_scores.parquet, calling each for every row.
func ReadScores(data []byte, each func(ScoreRow) error) error {
	rr, release, err := recordReader(data, ImageScoresFile, ImageScoresSchema)
	if err != nil {
		return err
	}
	defer release()
	for rr.Next() {
		rec := rr.RecordBatch()
		bad := fmt.Errorf("tables: %s: schema %v, want %v", ImageScoresFile, rec.Schema(), ImageScoresSchema)
		shard, ok1 := rec.Column(0).(*array.String)
		key, ok2 := rec.Column(1).(*array.String)
		lists, ok3 := rec.Column(2).(*array.List)
		if !ok1 || !ok2 || !ok3 {
			return bad
		}
		st, ok := lists.ListValues().(*array.Struct)
		if !ok || st.NumField() != 2 {
			return bad
		}
		names, ok1 := st.Field(0).(*array.String)
		scores, ok2 := st.Field(1).(*array.Float32)
		if !ok1 || !ok2 {
			return bad
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			r := ScoreRow{Shard: shard.Value(i), Key: key.Value(i)}
			s, e := lists.ValueOffsets(i)
			for k := s; k < e; k++ {
				r.Concepts = append(r.Concepts, names.Value(int(k)))
				r.Scores = append(r.Scores, scores.Value(int(k)))
			}
			if err := each(r); err != nil {
				return err
			}
		}
	}
	if err := rr.Err(); err != nil && err != io.EOF {
		return fmt.Errorf("tables: %s: %w", ImageScoresFile, err)
	}
	return nil
}

// ReadSamples reads sample_concepts.parquet, calling each for every row.
func ReadSamples(data []byte, each func(SampleRow) error) error {
	rr, release, err := recordReader(data, SampleConceptsFile, SampleConceptsSchema)
	if err != nil {
		return err
	}
	defer release()
	for rr.Next() {
		rec := rr.RecordBatch()
		bad := fmt.Errorf("tables: %s: schema %v, want %v", SampleConceptsFile, rec.Schema(), SampleConceptsSchema)
		shard, ok1 := rec.Column(0).(*array.String)
		key, ok2 := rec.Column(1).(*array.String)
		capt, ok3 := rec.Column(2).(*array.String)
		text, ok4 := rec.Column(3).(*array.List)
		image, ok5 := rec.Column(4).(*array.List)
		if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
			return bad
		}
		if _, ok := text.ListValues().(*array.String); !ok {
			return bad
		}
		if _, ok := image.ListValues().(*array.String); !ok {
			return bad
		}
		list := func(l *array.List, i int) []string {
			vals := l.ListValues().(*array.String)
			s, e := l.ValueOffsets(i)
			out := make([]string, 0, e-s)
			for k := s; k < e; k++ {
				out = append(out, vals.Value(int(k)))
			}
			return out
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			r := SampleRow{Shard: shard.Value(i), Key: key.Value(i), Caption: capt.Value(i), TextConcepts: list(text, i), ImageConcepts: list(image, i)}
			if err := each(r); err != nil {
				return err
			}
		}
	}
	if err := rr.Err(); err != nil && err != io.EOF {
		return fmt.Errorf("tables: %s: %w", SampleConceptsFile, err)
	}
	return nil
}
