// Package flagtest lets a test set command-line flags and have every flag
// it changed restored when the test ends.
package flagtest

import (
	"flag"
	"testing"
)

// Set parses args into flag.CommandLine and restores each flag's earlier
// value in t's cleanup.
func Set(t testing.TB, args ...string) {
	t.Helper()
	saved := map[string]string{}
	flag.VisitAll(func(f *flag.Flag) { saved[f.Name] = f.Value.String() })
	t.Cleanup(func() {
		flag.VisitAll(func(f *flag.Flag) {
			if v := saved[f.Name]; f.Value.String() != v {
				if err := f.Value.Set(v); err != nil {
					t.Errorf("restoring --%s: %v", f.Name, err)
				}
			}
		})
	})
	if err := flag.CommandLine.Parse(args); err != nil {
		t.Fatal(err)
	}
}
