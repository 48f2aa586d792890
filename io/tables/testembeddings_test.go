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
	if err := tables.WriteTestEmbeddings(&b, rows, nil); err != nil {
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
	if err := tables.WriteConceptEmbeddings(&b, []string{"dog"}, [][]float32{{1}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := tables.ReadTestEmbeddings(b.Bytes(), "c.parquet", nil); err == nil || !strings.Contains(err.Error(), "c.parquet") || !strings.Contains(err.Error(), "dataset, key, label and vector") {
		t.Errorf("concept embeddings read as test embeddings: %v", err)
	}
}
