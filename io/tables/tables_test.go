package tables_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

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
	if _, err := tables.ReadConceptCounts(bytes.NewReader(b.Bytes()), nil); err == nil || !strings.Contains(err.Error(), "concept_counts.parquet") {
		t.Fatalf("reading rejects as concept counts: got %v, want an error naming concept_counts.parquet", err)
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
	if err := tables.WriteConceptEmbeddings(&b, names, embs, nil, mem); err != nil {
		t.Fatal(err)
	}
	gotNames, gotEmbs, err := tables.ReadConceptEmbeddings(b.Bytes(), "x", mem)
	if err != nil || !reflect.DeepEqual(gotNames, names) || !reflect.DeepEqual(gotEmbs, embs) {
		t.Fatalf("got %v %v %v, want %v %v", gotNames, gotEmbs, err, names, embs)
	}
	if _, _, err := tables.ReadConceptEmbeddings([]byte("nope"), "x", mem); err == nil || !strings.Contains(err.Error(), "tables: x:") {
		t.Errorf("garbage: got %v, want an error naming the file", err)
	}
	if err := tables.WriteConceptEmbeddings(&b, names, embs[:1], nil, mem); err == nil {
		t.Error("mismatched lengths accepted")
	}
}

type testRow struct {
	Name    string  `parquet:"name"`
	N       int     `parquet:"n"`
	Skipped string  // untagged: not a column
	Score   float64 `parquet:"score"`
	OK      bool    `parquet:"ok"`
}

func TestWriteRows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rows := []testRow{{"a", 1, "x", 0.5, true}, {"b", -2, "y", math.NaN(), false}}
	var b bytes.Buffer
	if err := tables.WriteRows(&b, "t", rows, mem, tables.Column{Name: "extra_1", Float64s: []float64{1, 2}}); err != nil {
		t.Fatal(err)
	}
	tbl := readTable(t, b.Bytes())
	defer tbl.Release()
	var names []string
	for _, f := range tbl.Schema().Fields() {
		names = append(names, f.Name+":"+f.Type.String())
	}
	want := []string{"name:utf8", "n:int64", "score:float64", "ok:bool", "extra_1:float64"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("columns %v, want %v", names, want)
	}
	n := tbl.Column(1).Data().Chunk(0).(*array.Int64)
	s := tbl.Column(2).Data().Chunk(0).(*array.Float64)
	if n.Value(0) != 1 || n.Value(1) != -2 || s.Value(0) != 0.5 || !s.IsNull(1) {
		t.Errorf("values: n=%v score=%v (NaN must be null)", n, s)
	}
	// An empty table keeps its column types.
	b.Reset()
	if err := tables.WriteRows[testRow](&b, "empty", nil, mem); err != nil {
		t.Fatal(err)
	}
	empty := readTable(t, b.Bytes())
	defer empty.Release()
	if empty.NumRows() != 0 || empty.Schema().Field(1).Type.ID() != arrow.INT64 || empty.Schema().Field(3).Type.ID() != arrow.BOOL {
		t.Errorf("empty table schema %v", empty.Schema())
	}
	if err := tables.WriteRows(&b, "bad", []struct {
		X []int `parquet:"x"`
	}{{}}, mem); err == nil || !strings.Contains(err.Error(), "not a supported column type") {
		t.Errorf("unsupported field: got %v", err)
	}
	if err := tables.WriteRows(&b, "ragged", rows, mem, tables.Column{Name: "e", Int64s: []int64{1}}); err == nil || !strings.Contains(err.Error(), "column e has 1 rows") {
		t.Errorf("ragged extra column: got %v", err)
	}
}

func readTable(t *testing.T, data []byte) arrow.Table {
	t.Helper()
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// Every string written is valid UTF-8: invalid bytes (a tar member name
// is bytes) become \xNN escapes, valid text is unchanged.
func TestValidUTF8(t *testing.T) {
	for in, want := range map[string]string{
		"plain":       "plain",
		"caf\xe9/001": `caf\xe9/001`,
		"ok é \\x41":  "ok é \\x41",
		"\xff\xfe":    `\xff\xfe`,
		"a\xe2\x82":   `a\xe2\x82`,
		"日本\x80語":     `日本\x80語`,
	} {
		if got := tables.ValidUTF8(in); got != want || !utf8.ValidString(got) {
			t.Errorf("ValidUTF8(%q) = %q, want %q", in, got, want)
		}
	}
	var b bytes.Buffer
	rw, err := tables.NewRejectWriter(&b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := rw.WriteReject(tables.Reject{Shard: "bad\xffname.tar", Key: "k\xfe", Reason: "no_caption", Detail: "d"}); err != nil {
		t.Fatal(err)
	}
	if err := rw.Close(); err != nil {
		t.Fatal(err)
	}
	rows, err := tables.ReadRejects(bytes.NewReader(b.Bytes()), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Shard != `bad\xffname.tar` || rows[0].Key != `k\xfe` {
		t.Errorf("read back %+v", rows)
	}
}
