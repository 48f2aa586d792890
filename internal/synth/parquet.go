package synth

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// ParquetConfig describes img2dataset-style caption Parquet files (columns
// URL and TEXT, as LAION's metadata and img2dataset's input have them).
type ParquetConfig struct {
	Dir         string
	Files       int
	RowsPerFile int
	RowGroup    int      // rows per row group
	Captions    []string // cycled
	// Unique appends " #<row number>" to every caption, so that no two
	// rows are alike (a crawl's captions are unique; repeats let caches
	// and dictionary encoding hide the work).
	Unique bool
}

// WriteParquet writes cfg.Files files named 00000.parquet, ... and returns
// the number of rows written.
func WriteParquet(cfg ParquetConfig) (int, error) {
	if len(cfg.Captions) == 0 || cfg.Files <= 0 || cfg.RowsPerFile <= 0 || cfg.RowGroup <= 0 {
		return 0, fmt.Errorf("synth: parquet: need captions, files, rows per file and a row-group size")
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return 0, err
	}
	schema := arrow.NewSchema([]arrow.Field{{Name: "URL", Type: arrow.BinaryTypes.String}, {Name: "TEXT", Type: arrow.BinaryTypes.String}}, nil)
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy), parquet.WithMaxRowGroupLength(int64(cfg.RowGroup)))
	row := 0
	for f := 0; f < cfg.Files; f++ {
		if err := writeParquetFile(filepath.Join(cfg.Dir, fmt.Sprintf("%05d.parquet", f)), schema, props, cfg, &row); err != nil {
			return row, err
		}
	}
	return row, nil
}

func writeParquetFile(path string, schema *arrow.Schema, props *parquet.WriterProperties, cfg ParquetConfig, row *int) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	fw, err := pqarrow.NewFileWriter(schema, out, props, pqarrow.DefaultWriterProps())
	if err != nil {
		out.Close()
		return err
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	urls, texts := b.Field(0).(*array.StringBuilder), b.Field(1).(*array.StringBuilder)
	var buf []byte
	for done := 0; done < cfg.RowsPerFile; {
		n := min(cfg.RowGroup, cfg.RowsPerFile-done)
		for i := 0; i < n; i++ {
			buf = append(buf[:0], "https://example.com/img/"...)
			buf = strconv.AppendInt(buf, int64(*row), 10)
			buf = append(buf, ".jpg"...)
			urls.Append(string(buf))
			buf = append(buf[:0], cfg.Captions[*row%len(cfg.Captions)]...)
			if cfg.Unique {
				buf = append(buf, " #"...)
				buf = strconv.AppendInt(buf, int64(*row), 10)
			}
			texts.Append(string(buf))
			*row++
		}
		rec := b.NewRecordBatch()
		err := fw.Write(rec)
		rec.Release()
		if err != nil {
			fw.Close()
			return fmt.Errorf("synth: %s: %w", path, err)
		}
		done += n
	}
	if err := fw.Close(); err != nil {
		return fmt.Errorf("synth: %s: %w", path, err)
	}
	return nil
}
