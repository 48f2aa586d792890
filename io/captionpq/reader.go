// Package captionpq reads captions from img2dataset's Parquet files: its
// input lists (URL + caption) and the per-shard metadata it writes.
package captionpq

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/conceptfreq/conceptfreq/internal/arrowpool"
)

// CaptionColumns are tried in order when no caption column is given.
var CaptionColumns = []string{"caption", "TEXT", "text"}

// ErrNoCaptionColumn means none of the caption columns exists in the file.
var ErrNoCaptionColumn = errors.New("captionpq: no caption column")

// Row is one caption row. Null is true for a null caption; Caption may hold
// invalid UTF-8, which callers must check. Both strings are the row's own
// (copied out of the decoded batch, which the next batch replaces).
type Row struct {
	Key     string
	Caption string
	Null    bool
}

// Options configure a Reader.
type Options struct {
	// CaptionColumn overrides the auto-detection among CaptionColumns.
	CaptionColumn string
	// BatchSize is the most rows decoded at a time (default 8192).
	BatchSize int64
	// BatchBytes bounds a batch by bytes as well (default 8 MiB): a row
	// group's batches hold BatchBytes / (the group's uncompressed bytes per
	// row in the columns read) rows, at least one, at most BatchSize.
	BatchBytes int64
	// Mem allocates Arrow buffers (default: defaultMem, one process-wide
	// arrowpool.Allocator reusing the buffers of finished batches).
	Mem memory.Allocator
}

// defaultMem is the readers' allocator when Options.Mem is nil. It keeps
// at most 4 MiB of freed buffers per core (about a reader's batch buffers
// at the default batch bounds; a process reads at most one shard per
// core), at least 16 MiB.
var defaultMem = arrowpool.New(max(16<<20, runtime.GOMAXPROCS(0)*4<<20))

// Default batch bounds.
const (
	DefaultBatchSize  = 8192
	DefaultBatchBytes = 8 << 20
)

// Reader iterates over the rows of one Parquet file.
type Reader struct {
	name       string
	pf         *file.Reader
	fr         *pqarrow.FileReader
	ctx        context.Context
	cols       []int
	rg         int // the next row group to read
	batchRows  int64
	batchBytes int64
	rr         pqarrow.RecordReader // the current row group's (nil before the first)
	rec        arrow.RecordBatch
	i          int
	row        int64
	captionCol string
	keyIdx     int // in the record, -1 when the file has no key column
	err        error
}

// NewReader opens a Parquet file. name is used in error messages.
func NewReader(ctx context.Context, r parquet.ReaderAtSeeker, name string, opts Options) (*Reader, error) {
	mem := opts.Mem
	if mem == nil {
		mem = defaultMem
	}
	props := parquet.NewReaderProperties(mem)
	// Pages are read as streams and PLAIN values decoded a buffer (1 MiB)
	// at a time where the codec allows (uncompressed, gzip, brotli, zstd):
	// a writer's huge page is not inflated whole. Other pages (snappy, lz4,
	// dictionary pages) are read whole, up to arrow's 256 MiB page limit.
	props.BufferedStreamEnabled = true
	props.PageStreamingEnabled = true
	pf, err := file.NewParquetReader(r, file.WithReadProps(props))
	if err != nil {
		return nil, fmt.Errorf("captionpq: %s: not a readable Parquet file: %w", name, err)
	}
	batch, batchBytes := opts.BatchSize, opts.BatchBytes
	if batch <= 0 {
		batch = DefaultBatchSize
	}
	if batchBytes <= 0 {
		batchBytes = DefaultBatchBytes
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: batch}, mem)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("captionpq: %s: %w", name, err)
	}
	asch, err := fr.Schema()
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("captionpq: %s: %w", name, err)
	}
	field := func(n string) (arrow.Field, bool) {
		if idx := asch.FieldIndices(n); len(idx) > 0 {
			return asch.Field(idx[0]), true
		}
		return arrow.Field{}, false
	}
	sch := pf.MetaData().Schema
	col := opts.CaptionColumn
	if col == "" {
		for _, c := range CaptionColumns {
			if _, ok := field(c); ok {
				col = c
				break
			}
		}
	}
	f, ok := field(col)
	if !ok {
		pf.Close()
		want := opts.CaptionColumn
		if want == "" {
			want = strings.Join(CaptionColumns, ", ")
		}
		return nil, fmt.Errorf("%w: %s: want %s, file has %s (name the caption column to read)", ErrNoCaptionColumn, name, want, strings.Join(fieldNames(asch), ", "))
	}
	// A caption is text: an integer, float, boolean, list or struct column
	// is no caption column, whatever its name.
	capIdx := sch.ColumnIndexByName(col)
	if !isText(f.Type) || capIdx < 0 {
		pf.Close()
		return nil, fmt.Errorf("%w: %s: column %s is %s, not text (name a string column: --caption_column)", ErrNoCaptionColumn, name, col, f.Type)
	}
	cols := []int{capIdx}
	keyIdx := -1
	// The key column, when it is text or an integer; any other type (or
	// none) gives keys from row numbers.
	if kf, ok := field("key"); ok && (isText(kf.Type) || arrow.IsInteger(kf.Type.ID())) {
		if k := sch.ColumnIndexByName("key"); k >= 0 {
			cols = append(cols, k)
			keyIdx = 1
		}
	}
	return &Reader{name: name, pf: pf, fr: fr, ctx: ctx, cols: cols, batchRows: batch, batchBytes: batchBytes,
		captionCol: col, keyIdx: keyIdx}, nil
}

// nextRowGroup starts reading the next row group, in batches bounded by
// rows and by bytes; it reports false after the last.
func (r *Reader) nextRowGroup() (bool, error) {
	if r.rr != nil {
		r.rr.Release()
		r.rr = nil
	}
	md := r.pf.MetaData()
	for r.rg < md.NumRowGroups() {
		rg := r.rg
		r.rg++
		meta := md.RowGroup(rg)
		if meta.NumRows() == 0 {
			continue
		}
		var bytes int64
		for _, c := range r.cols {
			if cc, err := meta.ColumnChunk(c); err == nil {
				bytes += max(cc.TotalUncompressedSize(), 0)
			}
		}
		r.fr.Props.BatchSize = min(r.batchRows, max(1, r.batchBytes/max(1, bytes/meta.NumRows())))
		rr, err := r.fr.GetRecordReader(r.ctx, r.cols, []int{rg})
		if err != nil {
			return false, err
		}
		r.rr = rr
		return true, nil
	}
	return false, nil
}

func fieldNames(sch *arrow.Schema) []string {
	out := make([]string, sch.NumFields())
	for i := range out {
		out[i] = sch.Field(i).Name
	}
	return out
}

// isText reports whether a column of type t holds text (or bytes read as
// text): strings, binaries, and dictionaries of them.
func isText(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW, arrow.BINARY, arrow.LARGE_BINARY:
		return true
	case arrow.DICTIONARY:
		return isText(t.(*arrow.DictionaryType).ValueType)
	}
	return false
}

// CaptionColumn is the column captions are read from.
func (r *Reader) CaptionColumn() string { return r.captionCol }

// NumRows is the row count from the file's footer.
func (r *Reader) NumRows() int64 { return r.pf.NumRows() }

// Next returns the next row, or io.EOF after the last.
func (r *Reader) Next() (Row, error) {
	for r.err == nil && (r.rec == nil || r.i >= int(r.rec.NumRows())) {
		if r.rec != nil {
			r.rec.Release()
			r.rec = nil
		}
		if r.rr == nil || !r.rr.Next() {
			if r.rr != nil {
				if err := r.rr.Err(); err != nil && err != io.EOF {
					r.err = fmt.Errorf("captionpq: %s: after row %d: %w", r.name, r.row, err)
					break
				}
			}
			more, err := r.nextRowGroup()
			if err != nil {
				r.err = fmt.Errorf("captionpq: %s: after row %d: %w", r.name, r.row, err)
			} else if !more {
				r.err = io.EOF
			}
			continue
		}
		r.rec = r.rr.RecordBatch()
		r.rec.Retain()
		r.i = 0
	}
	if r.err != nil {
		return Row{}, r.err
	}
	var out Row
	capArr := r.rec.Column(0)
	if capArr.IsNull(r.i) {
		out.Null = true
	} else {
		s, err := stringAt(capArr, r.i)
		if err != nil {
			r.err = fmt.Errorf("captionpq: %s: column %s: %w", r.name, r.captionCol, err)
			return Row{}, r.err
		}
		out.Caption = s
	}
	if r.keyIdx >= 0 && !r.rec.Column(r.keyIdx).IsNull(r.i) {
		k, err := stringAt(r.rec.Column(r.keyIdx), r.i)
		if err != nil {
			r.err = fmt.Errorf("captionpq: %s: column key: %w", r.name, err)
			return Row{}, r.err
		}
		out.Key = k
	} else {
		out.Key = strconv.FormatInt(r.row, 10)
	}
	r.i++
	r.row++
	return out, nil
}

func stringAt(a arrow.Array, i int) (string, error) {
	switch c := a.(type) {
	case *array.String:
		return strings.Clone(c.Value(i)), nil // Value points into the batch
	case *array.LargeString:
		return strings.Clone(c.Value(i)), nil
	case *array.StringView:
		return strings.Clone(c.Value(i)), nil
	case *array.Binary:
		return string(c.Value(i)), nil
	case *array.LargeBinary:
		return string(c.Value(i)), nil
	case *array.Int64:
		return strconv.FormatInt(c.Value(i), 10), nil
	case *array.Int32:
		return strconv.FormatInt(int64(c.Value(i)), 10), nil
	case *array.Dictionary:
		return stringAt(c.Dictionary(), c.GetValueIndex(i))
	}
	return "", fmt.Errorf("unsupported type %s", a.DataType())
}

// Close releases the file.
func (r *Reader) Close() error {
	if r.rec != nil {
		r.rec.Release()
		r.rec = nil
	}
	if r.rr != nil {
		r.rr.Release()
		r.rr = nil
	}
	return r.pf.Close()
}
