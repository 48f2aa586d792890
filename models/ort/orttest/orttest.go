// Package orttest gives tests the ONNX Runtime library installed by
// models/install_ort.sh: they skip without it, or fail when
// CONCEPTFREQ_REQUIRE_ORT is set (make test sets it, after installing it).
package orttest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/conceptfreq/conceptfreq/models/ort"
)

// Lib returns the absolute path of the ONNX Runtime library.
func Lib(t testing.TB) string {
	t.Helper()
	if !ort.Available {
		t.Skip("built without cgo: no ONNX Runtime")
	}
	p, _ := filepath.Abs(ort.ResolveLib(""))
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CONCEPTFREQ_REQUIRE_ORT") != "" {
			t.Fatalf("ONNX Runtime library missing at %s: run bash models/install_ort.sh", p)
		}
		t.Skipf("ONNX Runtime library not installed at %s (make test installs it)", p)
	}
	return p
}
