package tables_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/conceptfreq/conceptfreq/io/tables"
)

func TestTestEmbeddingsRoundTrip(t *testing.T) {
	rows := []tables.TestEmbedding{
		{Dataset: "imagenet", Key: "val/0001", Label: "goldfish", Vector: []float32{0.6, 0.8}},
		{Dataset: "coco", Key: "000139", Vector: []float32{1, 0}}, // no label: null
	}
	var b bytes.Buffer
	if err := tables.WriteTestEmbeddings(&b, rows, nil, nil); err != nil {
		t.Fatal(err)
	}
	got, err := tables.ReadTestEmbeddings(b.Bytes(), "t.parquet", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rows) {
		t.Errorf("got %+v, want %+v", got, rows)
	}
	// A concept-embeddings file is not a test-embeddings file: the error says which columns.
	b.Reset()
	if err := tables.WriteConceptEmbeddings(&b, []string{"dog"}, [][]float32{{1}}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := tables.ReadTestEmbeddings(b.Bytes(), "c.parquet", nil); err == nil || !strings.Contains(err.Error(), "c.parquet") || !strings.Contains(err.Error(), "dataset, key, label and vector") {
		t.Errorf("concept embeddings read as test embeddings: %v", err)
	}
}

// What made a file travels with it: the provenance written is the
// provenance read, and a file without any reads as empty.
func TestProvenanceRoundTrip(t *testing.T) {
	prov := tables.Provenance{tables.MetaImageModelSHA256: "ab12", tables.MetaImageSpec: `{"input_size":224}`, tables.MetaVersion: "v1"}
	var b bytes.Buffer
	if err := tables.WriteTestEmbeddings(&b, []tables.TestEmbedding{{Dataset: "d", Key: "k", Vector: []float32{1}}}, prov, nil); err != nil {
		t.Fatal(err)
	}
	got, err := tables.ReadProvenance(b.Bytes(), "t.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, prov) {
		t.Errorf("got %v, want %v", got, prov)
	}
	if rows, err := tables.ReadTestEmbeddings(b.Bytes(), "t.parquet", nil); err != nil || len(rows) != 1 {
		t.Errorf("rows of a file with provenance: %v, %v", rows, err)
	}
	b.Reset()
	if err := tables.WriteConceptEmbeddings(&b, []string{"dog"}, [][]float32{{1}}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := tables.ReadProvenance(b.Bytes(), "c.parquet"); err != nil || len(got) != 0 {
		t.Errorf("a file without provenance: %v, %v; want none", got, err)
	}
	if _, err := tables.ReadProvenance([]byte("dataset,key\n"), "x.parquet"); err == nil || !strings.Contains(err.Error(), "x.parquet") {
		t.Errorf("a CSV read for provenance: %v; want an error naming it", err)
	}
}
