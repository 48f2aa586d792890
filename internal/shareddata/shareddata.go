// Package shareddata locates, for tests, the real inputs that live in
// shared/data beside the checkout (../shared/data from the module root):
// LAION captions, WebDataset shards, photos and the study's released data.
//
// A test that needs them calls Path. When they are absent the test is
// skipped, unless $CONCEPTFREQ_REQUIRE_SHARED is set (make test sets it, so
// CI can never pass by skipping them): then it fails.
package shareddata

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/conceptfreq/conceptfreq/io/captionpq"
)

// RequireEnv is the environment variable that turns a missing shared
// file into a test failure.
const RequireEnv = "CONCEPTFREQ_REQUIRE_SHARED"

// Dir returns the shared/data directory beside the module root (it may not
// exist).
func Dir() string {
	dir, err := os.Getwd()
	for err == nil {
		if _, serr := os.Stat(filepath.Join(dir, "go.mod")); serr == nil {
			return filepath.Join(dir, "..", "shared", "data")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return filepath.Join("..", "shared", "data")
}

// Path returns the path of rel (slash-separated) under shared/data. A
// missing file skips the test, or fails it when RequireEnv is set.
func Path(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(Dir(), filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("shared data required ($%s is set) but missing: %v", RequireEnv, err)
		}
		t.Skipf("shared data not available (%v); it lives in ../shared/data beside the checkout", err)
	}
	return p
}

// Captions returns the caption column of an img2dataset Parquet file under
// shared/data (rel, e.g. "laion-captions/test_10000.parquet"), in row
// order; null captions are empty strings.
func Captions(t testing.TB, rel string) []string {
	t.Helper()
	path := Path(t, rel)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := captionpq.NewReader(context.Background(), f, path, captionpq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []string
	for {
		row, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, row.Caption)
	}
}
