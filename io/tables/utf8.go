package tables

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// ValidUTF8 is s as every string column of conceptfreq's Parquet outputs
// holds it: valid UTF-8, with each byte of an invalid sequence written as
// the escape \xNN (a tar member or file name is bytes; DuckDB, pandas and
// polars refuse a whole table with one invalid string). Valid text —
// backslashes included — is unchanged, so a name that was valid UTF-8 reads
// back as it was.
func ValidUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			fmt.Fprintf(&b, `\x%02x`, s[i])
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// validAll is ValidUTF8 over a list, copying it only when needed.
func validAll(list []string) []string {
	for i, s := range list {
		if !utf8.ValidString(s) {
			out := append([]string(nil), list...)
			for j := i; j < len(out); j++ {
				out[j] = ValidUTF8(out[j])
			}
			return out
		}
	}
	return list
}
