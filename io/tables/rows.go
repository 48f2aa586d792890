package tables

import (
	"fmt"
	"io"
	"reflect"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// WriteRows writes rows as one Parquet file: one column per struct field
// tagged `parquet:"name"`, in field order (untagged fields are skipped).
// Field types string, bool, int, int64 and float64 are supported; NaN and
// ±Inf floats are written as nulls. extra columns, of the same length, are
// appended after the tagged ones (for columns whose names depend on the
// run). The column types are known from T even when rows is empty.
func WriteRows[T any](w io.Writer, name string, rows []T, mem memory.Allocator, extra ...Column) error {
	return WriteRowsWith(w, name, rows, nil, mem, extra...)
}

// WriteRowsWith is WriteRows with prov as the file's key-value metadata.
func WriteRowsWith[T any](w io.Writer, name string, rows []T, prov Provenance, mem memory.Allocator, extra ...Column) error {
	rt := reflect.TypeFor[T]()
	if rt.Kind() != reflect.Struct {
		return fmt.Errorf("tables: %s: rows of %v, want a struct", name, rt)
	}
	var cols []Column
	var fields []int
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		tag := f.Tag.Get("parquet")
		if tag == "" || tag == "-" {
			continue
		}
		c := Column{Name: tag}
		switch f.Type.Kind() {
		case reflect.String:
			c.Strings = make([]string, 0, len(rows))
		case reflect.Bool:
			c.Bools = make([]bool, 0, len(rows))
		case reflect.Int, reflect.Int64:
			c.Int64s = make([]int64, 0, len(rows))
		case reflect.Float64:
			c.Float64s = make([]float64, 0, len(rows))
		default:
			return fmt.Errorf("tables: %s: field %s is %v, not a supported column type", name, f.Name, f.Type)
		}
		cols = append(cols, c)
		fields = append(fields, i)
	}
	for _, r := range rows {
		v := reflect.ValueOf(r)
		for k, i := range fields {
			fv := v.Field(i)
			c := &cols[k]
			switch fv.Kind() {
			case reflect.String:
				c.Strings = append(c.Strings, fv.String())
			case reflect.Bool:
				c.Bools = append(c.Bools, fv.Bool())
			case reflect.Int, reflect.Int64:
				c.Int64s = append(c.Int64s, fv.Int())
			case reflect.Float64:
				c.Float64s = append(c.Float64s, fv.Float())
			}
		}
	}
	return WriteColumnsWith(w, name, append(cols, extra...), prov, mem)
}
