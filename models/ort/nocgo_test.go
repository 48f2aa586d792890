//go:build !cgo

package ort_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/conceptfreq/conceptfreq/models/ort"
)

// Run with CGO_ENABLED=0 (make test does): the stub must say what is missing.
func TestBuiltWithoutCgo(t *testing.T) {
	_, err := ort.Open("model.onnx", ort.Options{})
	if !errors.Is(err, ort.ErrNoONNX) || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Fatalf("got %v", err)
	}
	if ort.Available {
		t.Fatal("Available is true without cgo")
	}
}
