package tables_test

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conceptfreq/conceptfreq/io/tables"
)

func i64(v int64) *int64 { return &v }

func TestConceptCountsRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rows := []tables.ConceptCount{
		{Concept: "Granny Smith", TextCount: 12},
		{Concept: "dog", TextCount: 0},
		{Concept: "café", TextCount: 1 << 40, ImageCount: i64(3), MatchedCount: i64(2), TextOnlyCount: i64(1), ImageOnlyCount: i64(0)},
	}
	var b bytes.Buffer
	if err := tables.WriteConceptCounts(&b, rows, mem); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b.Bytes(), []byte("PAR1")) || !bytes.HasSuffix(b.Bytes(), []byte("PAR1")) {
		t.Fatal("output is not framed as Parquet")
	}
	got, err := tables.ReadConceptCounts(bytes.NewReader(b.Bytes()), mem)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rows) {
		t.Fatalf("got %+v, want %+v", got, rows)
	}
}

func TestRejectWriterManyRowGroups(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var b bytes.Buffer
	rw, err := tables.NewRejectWriter(&b, mem)
	if err != nil {
		t.Fatal(err)
	}
	n := tables.RowGroupRows*2 + 17
	for i := 0; i < n; i++ {
		if err := rw.WriteReject(tables.Reject{Shard: "s.tar", Key: fmt.Sprint(i), Reason: "no_caption", Detail: "d"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := rw.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := tables.ReadRejects(bytes.NewReader(b.Bytes()), mem)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n || got[n-1].Key != fmt.Sprint(n-1) || got[0].Shard != "s.tar" {
		t.Fatalf("got %d rows (last %+v), want %d", len(got), got[len(got)-1], n)
	}
}

func TestEmptyRejects(t *testing.T) {
	var b bytes.Buffer
	rw, err := tables.NewRejectWriter(&b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := rw.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := tables.ReadRejects(bytes.NewReader(b.Bytes()), nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("got %d rows, %v; want 0 rows", len(got), err)
	}
}

func TestReadWrongFile(t *testing.T) {
	var b bytes.Buffer
	rw, _ := tables.NewRejectWriter(&b, nil)
	rw.Close()
	if _, err := tables.ReadConceptCounts(bytes.NewReader(b.Bytes()), nil); err == nil {
		t.Fatal("reading rejects as concept counts: got no error")
	}
}

func TestScoresRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var b bytes.Buffer
	w, err := tables.NewScoreWriter(&b, mem)
	if err != nil {
		t.Fatal(err)
	}
	rows := []tables.ScoreRow{
		{Shard: "a.tar", Key: "000000001", Concepts: []string{"red", "blue"}, Scores: []float32{0.9, 0.31}},
		{Shard: "a.tar", Key: "000000002"},
	}
	for _, r := range rows {
		if err := w.WriteScore(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var got []tables.ScoreRow
	if err := tables.ReadScores(b.Bytes(), func(r tables.ScoreRow) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !reflect.DeepEqual(got[0], rows[0]) || got[1].Key != "000000002" || len(got[1].Concepts) != 0 {
		t.Fatalf("got %+v", got)
	}
}

func TestSamplesRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var b bytes.Buffer
	w, err := tables.NewSampleWriter(&b, mem)
	if err != nil {
		t.Fatal(err)
	}
	rows := []tables.SampleRow{
		{Shard: "a", Key: "k", Caption: "a red car", TextConcepts: []string{"car", "red"}, ImageConcepts: []string{"red"}},
		{Shard: "b", Key: "k2", Caption: "nothing", TextConcepts: []string{}, ImageConcepts: []string{"blue", "green"}},
	}
	for _, r := range rows {
		if err := w.WriteSample(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var got []tables.SampleRow
	if err := tables.ReadSamples(b.Bytes(), func(r tables.SampleRow) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rows) {
		t.Fatalf("got %+v, want %+v", got, rows)
	}
	if err := tables.ReadSamples(b.Bytes(), func(tables.SampleRow) error { return nil }); err != nil {
		t.Fatal(err)
	}
	var sb bytes.Buffer
	sw, err := tables.NewScoreWriter(&sb, mem)
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tables.ReadSamples(sb.Bytes(), func(tables.SampleRow) error { return nil }); err == nil || !strings.Contains(err.Error(), "want") {
		t.Errorf("reading image scores as samples: got %v, want a schema error", err)
	}
}

func TestConceptEmbeddingsRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var b bytes.Buffer
	names := []string{"a", "b"}
	embs := [][]float32{{1, 2}, {3, 4}}
	if err := tables.WriteConceptEmbeddings(&b, names, embs, mem); err != nil {
		t.Fatal(err)
	}
	gotNames, gotEmbs, err := tables.ReadConceptEmbeddings(b.Bytes(), "x", mem)
	if err != nil || !reflect.DeepEqual(gotNames, names) || !reflect.DeepEqual(gotEmbs, embs) {
		t.Fatalf("got %v %v %v, want %v %v", gotNames, gotEmbs, err, names, embs)
	}
	if _, _, err := tables.ReadConceptEmbeddings([]byte("nope"), "x", mem); err == nil || !strings.Contains(err.Error(), "tables: x:") {
		t.Errorf("garbage: got %v, want an error naming the file", err)
	}
	if err := tables.WriteConceptEmbeddings(&b, names, embs[:1], mem); err == nil {
		t.Error("mismatched lengths accepted")
	}
}
