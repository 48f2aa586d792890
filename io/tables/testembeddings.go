package tables

import (
	"bytes"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestEmbeddingsFile is the default name of a test set's image embeddings.
const TestEmbeddingsFile = "test_embeddings.parquet"

// TestEmbedding is one test image's embedding: the similarity-control
// input (pipelines/embed --images).
type TestEmbedding struct {
	Dataset string
	Key     string
	Label   string // "" is written as null
	Vector  []float32
}

// TestEmbeddingsSchema is the schema of test_embeddings.parquet.
var TestEmbeddingsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "dataset", Type: arrow.BinaryTypes.String},
	{Name: "key", Type: arrow.BinaryTypes.String},
	{Name: "label", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "vector", Type: arrow.ListOf(arrow.PrimitiveTypes.Float32)},
}, nil)

// WriteTestEmbeddings writes rows to w with the other outputs' Parquet
// settings and prov as its key-value metadata (the image encoder's sha256
// and its preprocessing, which the count job's similarity control checks).
// It does not close w.
func WriteTestEmbeddings(w io.Writer, rows []TestEmbedding, prov Provenance, mem memory.Allocator) error {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	b := array.NewRecordBuilder(mem, TestEmbeddingsSchema)
	defer b.Release()
	ds, keys, labels := b.Field(0).(*array.StringBuilder), b.Field(1).(*array.StringBuilder), b.Field(2).(*array.StringBuilder)
	lb := b.Field(3).(*array.ListBuilder)
	vb := lb.ValueBuilder().(*array.Float32Builder)
	for _, r := range rows {
		ds.Append(ValidUTF8(r.Dataset))
		keys.Append(ValidUTF8(r.Key))
		if r.Label == "" {
			labels.AppendNull()
		} else {
			labels.Append(ValidUTF8(r.Label))
		}
		lb.Append(true)
		vb.AppendValues(r.Vector, nil)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	return writeRecord(w, prov.schema(TestEmbeddingsSchema), rec, mem, "test embeddings")
}

// ReadTestEmbeddings reads a test-embeddings file (columns dataset, key,
// label, vector: list of float or double); name is for error messages.
func ReadTestEmbeddings(data []byte, name string, mem memory.Allocator) ([]TestEmbedding, error) {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	tbl, err := wholeTable(bytes.NewReader(data), mem, name, name)
	if err != nil {
		return nil, err
	}
	defer tbl.Release()
	idx := map[string]int{}
	for _, c := range []string{"dataset", "key", "label", "vector"} {
		is := tbl.Schema().FieldIndices(c)
		if len(is) == 0 {
			return nil, fmt.Errorf("tables: %s: want columns dataset, key, label and vector, have %v", name, tbl.Schema())
		}
		idx[c] = is[0]
	}
	tr := array.NewTableReader(tbl, 0)
	defer tr.Release()
	var out []TestEmbedding
	for tr.Next() {
		rec := tr.RecordBatch()
		str := func(c string) (*array.String, error) {
			a, ok := rec.Column(idx[c]).(*array.String)
			if !ok {
				return nil, fmt.Errorf("tables: %s: %s column is %s, want string", name, c, rec.Column(idx[c]).DataType())
			}
			return a, nil
		}
		ds, err := str("dataset")
		if err != nil {
			return nil, err
		}
		keys, err := str("key")
		if err != nil {
			return nil, err
		}
		labels, err := str("label")
		if err != nil {
			return nil, err
		}
		lists, ok := rec.Column(idx["vector"]).(*array.List)
		if !ok {
			return nil, fmt.Errorf("tables: %s: vector column is %s, want list<float>", name, rec.Column(idx["vector"]).DataType())
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			v, err := floatList(lists, i, name, "vector")
			if err != nil {
				return nil, err
			}
			r := TestEmbedding{Dataset: ds.Value(i), Key: keys.Value(i), Vector: v}
			if labels.IsValid(i) {
				r.Label = labels.Value(i)
			}
			out = append(out, r)
		}
	}
	return out, tr.Err()
}
