package captionpq_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"

	"github.com/conceptfreq/conceptfreq/internal/pqtest"
	"github.com/conceptfreq/conceptfreq/internal/shareddata"
	"github.com/conceptfreq/conceptfreq/io/captionpq"
)

func readAll(t *testing.T, data []byte, opts captionpq.Options) ([]captionpq.Row, *captionpq.Reader, error) {
	t.Helper()
	r, err := captionpq.NewReader(context.Background(), bytes.NewReader(data), "test.parquet", opts)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	var rows []captionpq.Row
	for {
		row, err := r.Next()
		if err == io.EOF {
			return rows, r, nil
		}
		if err != nil {
			return rows, r, err
		}
		rows = append(rows, row)
	}
}

// laion_test_1000.parquet: 1,000 real LAION-400M rows (URL, TEXT) from
// img2dataset's tests; first captions checked with DuckDB.
func TestLAIONSample(t *testing.T) {
	data, err := os.ReadFile("../../testdata/captions/laion_test_1000.parquet")
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rows, r, err := readAll(t, data, captionpq.Options{BatchSize: 300, Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.CaptionColumn(); got != "TEXT" {
		t.Errorf("caption column: got %q, want TEXT", got)
	}
	if len(rows) != 1000 {
		t.Fatalf("got %d rows, want 1000", len(rows))
	}
	if rows[0].Caption != "Classical Masterpieces: Xerses & More, Vol. 8 by Various Artists" || rows[1].Caption != "Tavern Brawl by velinov" {
		t.Errorf("first captions: got %q, %q", rows[0].Caption, rows[1].Caption)
	}
	if rows[0].Key != "0" || rows[999].Key != "999" {
		t.Errorf("row-number keys: got %q .. %q, want 0 .. 999", rows[0].Key, rows[999].Key)
	}
}

func TestKeysNullsAndOverride(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "key", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "caption", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "alt", Type: arrow.BinaryTypes.LargeString, Nullable: true},
	}, nil)
	data := pqtest.Write(t, schema, func(b *array.RecordBuilder) {
		b.Field(0).(*array.StringBuilder).AppendValues([]string{"000000007", "000000008"}, nil)
		b.Field(1).(*array.StringBuilder).AppendValues([]string{"a dog", ""}, []bool{true, false})
		b.Field(2).(*array.LargeStringBuilder).AppendValues([]string{"alt one", "alt two"}, nil)
	})
	rows, _, err := readAll(t, data, captionpq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []captionpq.Row{{Key: "000000007", Caption: "a dog"}, {Key: "000000008", Null: true}}
	if len(rows) != 2 || rows[0] != want[0] || rows[1] != want[1] {
		t.Errorf("got %+v, want %+v", rows, want)
	}
	rows, r, err := readAll(t, data, captionpq.Options{CaptionColumn: "alt"})
	if err != nil || r.CaptionColumn() != "alt" || rows[1].Caption != "alt two" {
		t.Errorf("override: got %+v, %v", rows, err)
	}
}

func TestNoCaptionColumn(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "url", Type: arrow.BinaryTypes.String}}, nil)
	data := pqtest.Write(t, schema, func(b *array.RecordBuilder) { b.Field(0).(*array.StringBuilder).Append("u") })
	for _, opts := range []captionpq.Options{{}, {CaptionColumn: "nope"}} {
		_, _, err := readAll(t, data, opts)
		if !errors.Is(err, captionpq.ErrNoCaptionColumn) {
			t.Errorf("%+v: got %v, want ErrNoCaptionColumn", opts, err)
		}
	}
	if _, _, err := readAll(t, []byte("not parquet at all"), captionpq.Options{}); err == nil || !strings.Contains(err.Error(), "not a readable Parquet file") {
		t.Errorf("garbage: got %v", err)
	}
}

// A caption column that is not text (an integer, a list, a struct) is no
// caption column, said with its type; a key column that is neither text
// nor an integer gives row-number keys instead of failing every caption.
func TestColumnTypes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		field arrow.Field
		fill  func(b array.Builder)
		want  string
	}{
		{"integer", arrow.Field{Name: "TEXT", Type: arrow.PrimitiveTypes.Int64}, func(b array.Builder) { b.(*array.Int64Builder).Append(7) }, "column TEXT is int64, not text"},
		{"list", arrow.Field{Name: "caption", Type: arrow.ListOf(arrow.BinaryTypes.String)}, func(b array.Builder) {
			lb := b.(*array.ListBuilder)
			lb.Append(true)
			lb.ValueBuilder().(*array.StringBuilder).Append("a dog")
		}, "column caption is list<element: utf8, nullable>, not text"},
		{"struct", arrow.Field{Name: "caption", Type: arrow.StructOf(arrow.Field{Name: "en", Type: arrow.BinaryTypes.String})}, func(b array.Builder) {
			sb := b.(*array.StructBuilder)
			sb.Append(true)
			sb.FieldBuilder(0).(*array.StringBuilder).Append("a dog")
		}, "column caption is struct<en: utf8>, not text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := pqtest.Write(t, arrow.NewSchema([]arrow.Field{tc.field}, nil), func(b *array.RecordBuilder) { tc.fill(b.Field(0)) })
			_, _, err := readAll(t, data, captionpq.Options{})
			if !errors.Is(err, captionpq.ErrNoCaptionColumn) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want ErrNoCaptionColumn saying %q", err, tc.want)
			}
		})
	}
	schema := arrow.NewSchema([]arrow.Field{{Name: "key", Type: arrow.PrimitiveTypes.Float64}, {Name: "caption", Type: arrow.BinaryTypes.String}}, nil)
	data := pqtest.Write(t, schema, func(b *array.RecordBuilder) {
		b.Field(0).(*array.Float64Builder).AppendValues([]float64{1.5, 2.5}, nil)
		b.Field(1).(*array.StringBuilder).AppendValues([]string{"a dog", "a cat"}, nil)
	})
	rows, _, err := readAll(t, data, captionpq.Options{})
	if err != nil || len(rows) != 2 || rows[0].Key != "0" || rows[1].Key != "1" || rows[1].Caption != "a cat" {
		t.Errorf("float keys: got %+v, %v; want both captions with row-number keys", rows, err)
	}
	schema = arrow.NewSchema([]arrow.Field{{Name: "key", Type: arrow.PrimitiveTypes.Int32}, {Name: "caption", Type: arrow.BinaryTypes.String}}, nil)
	data = pqtest.Write(t, schema, func(b *array.RecordBuilder) {
		b.Field(0).(*array.Int32Builder).Append(42)
		b.Field(1).(*array.StringBuilder).Append("a dog")
	})
	if rows, _, err := readAll(t, data, captionpq.Options{}); err != nil || len(rows) != 1 || rows[0].Key != "42" {
		t.Errorf("integer keys: got %+v, %v; want key 42", rows, err)
	}
}

// peakAllocator is an Arrow allocator that records the most bytes it had
// out at once.
type peakAllocator struct {
	*memory.CheckedAllocator
	peak int
}

func (a *peakAllocator) note() {
	if n := a.CurrentAlloc(); n > a.peak {
		a.peak = n
	}
}

func (a *peakAllocator) Allocate(n int) []byte {
	b := a.CheckedAllocator.Allocate(n)
	a.note()
	return b
}

func (a *peakAllocator) Reallocate(n int, b []byte) []byte {
	b = a.CheckedAllocator.Reallocate(n, b)
	a.note()
	return b
}

// A small zstd file of huge captions (here 48 of 1 MB in one page, as
// DuckDB writes a row group's column in one page) is decoded in batches
// bounded by bytes, the page streamed: the decoder never holds more than
// a few MiB, not the 48 MB page plus a 48 MB batch of 8,192 rows.
func TestHugeCaptionsDecodedInBoundedMemory(t *testing.T) {
	const n, size = 48, 1 << 20
	caption := strings.Repeat("a red car parked by the sea ", size/28)
	schema := arrow.NewSchema([]arrow.Field{{Name: "caption", Type: arrow.BinaryTypes.String}, {Name: "key", Type: arrow.BinaryTypes.String}}, nil)
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithDictionaryDefault(false),
		parquet.WithDataPageSize(1<<30), parquet.WithMaxRowGroupLength(1<<20))
	data := pqtest.WriteWith(t, schema, props, func(b *array.RecordBuilder) {
		for i := 0; i < n; i++ {
			b.Field(0).(*array.StringBuilder).Append(caption)
			b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("%03d", i))
		}
	})
	if len(data) > 1<<20 {
		t.Fatalf("test file is %d bytes; want a small file of huge captions", len(data))
	}
	mem := &peakAllocator{CheckedAllocator: memory.NewCheckedAllocator(memory.NewGoAllocator())}
	rows, _, err := readAll(t, data, captionpq.Options{Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != n || rows[n-1].Key != fmt.Sprintf("%03d", n-1) || rows[0].Caption != caption {
		t.Fatalf("read %d rows (last key %q), want %d whole captions", len(rows), rows[len(rows)-1].Key, n)
	}
	if mem.peak > 16<<20 {
		t.Errorf("the decoder held %d MiB at once; want the batch bound (%d MiB) and a stream buffer, not the page", mem.peak>>20, captionpq.DefaultBatchBytes>>20)
	}
	mem.AssertSize(t, 0)
}

// The default allocator reuses the buffers of finished batches: four
// readers at once, in small batches so buffers are freed and handed out
// again thousands of times, read the 10,000 real LAION captions exactly as
// readers on arrow's GoAllocator (which never reuses) do.
func TestPooledBuffersReadLikeFreshOnes(t *testing.T) {
	data, err := os.ReadFile(shareddata.Path(t, "laion-captions/test_10000.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := readAll(t, data, captionpq.Options{BatchSize: 97, Mem: memory.NewGoAllocator()})
	if err != nil || len(want) != 10000 {
		t.Fatalf("GoAllocator read %d rows, err %v; want 10000", len(want), err)
	}
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func() {
			for round := 0; round < 3; round++ {
				got, _, err := readAll(t, data, captionpq.Options{BatchSize: 97 + int64(g)})
				if err != nil {
					errs <- err
					return
				}
				if len(got) != len(want) {
					errs <- fmt.Errorf("reader %d: %d rows, want %d", g, len(got), len(want))
					return
				}
				for i := range got {
					if got[i] != want[i] {
						errs <- fmt.Errorf("reader %d round %d: row %d = %+v, want %+v", g, round, i, got[i], want[i])
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
