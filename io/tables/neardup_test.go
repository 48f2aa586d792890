package tables_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conceptfreq/conceptfreq/io/tables"
)

func TestNearDuplicatesRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var b bytes.Buffer
	w, err := tables.NewNearWriter(&b, mem)
	if err != nil {
		t.Fatal(err)
	}
	rows := []tables.NearRow{
		{Shard: "a.tar", Key: "000000001", Dataset: "imagenet", TestKey: "val/0001", TestLabel: "goldfish", Similarity: 0.991, NearDuplicate: true},
		{Shard: "a.tar", Key: "000000007", Dataset: "cifar10", TestKey: "t7", Similarity: 0.91},
	}
	for _, r := range rows {
		if err := w.WriteNear(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var got []tables.NearRow
	if err := tables.ReadNearDuplicates(b.Bytes(), func(r tables.NearRow) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rows) {
		t.Fatalf("got %+v, want %+v", got, rows)
	}
	// test_label is null, not "", where there is no label.
	tbl := readTable(t, b.Bytes())
	defer tbl.Release()
	if c := tbl.Column(4).Data().Chunk(0); c.NullN() != 1 || !c.IsNull(1) {
		t.Errorf("test_label nulls: %d, want row 1 null", c.NullN())
	}
}

// The _dissimilar columns round-trip, and a concept_counts.parquet of a
// run before similarity control (six columns, as pyarrow or an old
// conceptfreq wrote it) still reads, with nil _dissimilar counts.
func TestConceptCountsDissimilarColumns(t *testing.T) {
	rows := []tables.ConceptCount{
		{Concept: "dog", TextCount: 9, ImageCount: i64(5), MatchedCount: i64(4), TextOnlyCount: i64(5), ImageOnlyCount: i64(1),
			TextCountDissimilar: i64(7), ImageCountDissimilar: i64(3), MatchedCountDissimilar: i64(2)},
		{Concept: "orange", TextCount: 2, TextCountDissimilar: i64(2)},
	}
	var b bytes.Buffer
	if err := tables.WriteConceptCounts(&b, rows, nil); err != nil {
		t.Fatal(err)
	}
	got, err := tables.ReadConceptCounts(bytes.NewReader(b.Bytes()), nil)
	if err != nil || !reflect.DeepEqual(got, rows) {
		t.Fatalf("got %+v, %v; want %+v", got, err, rows)
	}

	old := arrow.NewSchema(tables.ConceptCountsSchema.Fields()[:6], nil)
	bld := array.NewRecordBuilder(memory.DefaultAllocator, old)
	defer bld.Release()
	bld.Field(0).(*array.StringBuilder).Append("dog")
	bld.Field(1).(*array.Int64Builder).Append(3)
	for i := 2; i < 6; i++ {
		bld.Field(i).(*array.Int64Builder).AppendNull()
	}
	rec := bld.NewRecordBatch()
	defer rec.Release()
	var ob bytes.Buffer
	if err := tables.WriteRecordForTest(&ob, old, rec); err != nil {
		t.Fatal(err)
	}
	got, err = tables.ReadConceptCounts(bytes.NewReader(ob.Bytes()), nil)
	if err != nil || len(got) != 1 || got[0].TextCount != 3 || got[0].TextCountDissimilar != nil || got[0].ImageCount != nil {
		t.Fatalf("old six-column file: got %+v, %v", got, err)
	}
}
