package count

import (
	"bufio"
	"io"
	"sort"
)

func newPeekReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 256<<10) }

func sortStrings(s []string) { sort.Strings(s) }
