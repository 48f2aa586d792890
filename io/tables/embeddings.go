package tables

import (
	"bytes"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// ConceptEmbeddingsSchema is the schema of a concept-embedding file, the
// input of the embedding tagger: one row per concept.
var ConceptEmbeddingsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "concept", Type: arrow.BinaryTypes.String},
	{Name: "embedding", Type: arrow.ListOf(arrow.PrimitiveTypes.Float32)},
}, nil)

// WriteConceptEmbeddings writes (concept, embedding list<float>) rows to w
// with the same Parquet settings as the other outputs and prov as its
// key-value metadata. It does not close w.
func WriteConceptEmbeddings(w io.Writer, concepts []string, embeddings [][]float32, prov Provenance, mem memory.Allocator) error {
	if len(concepts) != len(embeddings) {
		return fmt.Errorf("tables: concept embeddings: %d concepts, %d embeddings", len(concepts), len(embeddings))
	}
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	b := array.NewRecordBuilder(mem, ConceptEmbeddingsSchema)
	defer b.Release()
	names := b.Field(0).(*array.StringBuilder)
	lb := b.Field(1).(*array.ListBuilder)
	vb := lb.ValueBuilder().(*array.Float32Builder)
	for i, c := range concepts {
		names.Append(ValidUTF8(c))
		lb.Append(true)
		vb.AppendValues(embeddings[i], nil)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	return writeRecord(w, prov.schema(ConceptEmbeddingsSchema), rec, mem, "concept embeddings")
}

// ReadConceptEmbeddings reads a concept-embedding Parquet file: columns
// concept (string) and embedding (list of float or double). name is used in
// error messages.
func ReadConceptEmbeddings(data []byte, name string, mem memory.Allocator) ([]string, [][]float32, error) {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	tbl, err := wholeTable(bytes.NewReader(data), mem, name, name)
	if err != nil {
		return nil, nil, err
	}
	defer tbl.Release()
	ci := tbl.Schema().FieldIndices("concept")
	ei := tbl.Schema().FieldIndices("embedding")
	if len(ci) == 0 || len(ei) == 0 {
		return nil, nil, fmt.Errorf("tables: %s: want columns concept and embedding, have %v", name, tbl.Schema())
	}
	tr := array.NewTableReader(tbl, 0)
	defer tr.Release()
	var concepts []string
	var embs [][]float32
	for tr.Next() {
		rec := tr.RecordBatch()
		names, ok := rec.Column(ci[0]).(*array.String)
		if !ok {
			return nil, nil, fmt.Errorf("tables: %s: concept column is %s, want string", name, rec.Column(ci[0]).DataType())
		}
		lists, ok := rec.Column(ei[0]).(*array.List)
		if !ok {
			return nil, nil, fmt.Errorf("tables: %s: embedding column is %s, want list<float>", name, rec.Column(ei[0]).DataType())
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			v, err := floatList(lists, i, name, "embedding")
			if err != nil {
				return nil, nil, err
			}
			concepts = append(concepts, names.Value(i))
			embs = append(embs, v)
		}
	}
	return concepts, embs, tr.Err()
}
