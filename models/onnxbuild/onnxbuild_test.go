package onnxbuild_test

import (
	"os"
	"strings"
	"testing"

	"github.com/conceptfreq/conceptfreq/models/onnxbuild"
	"github.com/conceptfreq/conceptfreq/models/ort"
)

func TestMetadataRoundTrip(t *testing.T) {
	m := onnxbuild.PoolLinear("m", "out", [3][]float32{{1}, {2}, {3}}, true, map[string]string{"a": "1", "conceptfreq.labels": "x\ny"})
	md, err := ort.ReadMetadata(m.Marshal())
	if err != nil || md["a"] != "1" || md["conceptfreq.labels"] != "x\ny" || len(md) != 2 {
		t.Fatalf("got %v, %v", md, err)
	}
	if _, err := ort.ReadMetadata([]byte{0xff, 0xff, 0xff}); err == nil || !strings.Contains(err.Error(), "not an ONNX model") {
		t.Errorf("garbage: got %v, want \"not an ONNX model\"", err)
	}
}

// The committed test models carry the metadata the pipeline reads.
func TestCommittedModelsMetadata(t *testing.T) {
	for _, name := range []string{"colour_tagger.onnx", "colour_embedder.onnx"} {
		committed, err := os.ReadFile("../../testdata/models/" + name)
		if err != nil {
			t.Fatal(err)
		}
		md, err := ort.ReadMetadata(committed)
		if err != nil || md["conceptfreq.input_size"] != "32" {
			t.Errorf("%s: metadata %v, %v", name, md, err)
		}
	}
}

func FuzzReadMetadata(f *testing.F) {
	b, err := os.ReadFile("../../testdata/models/colour_tagger.onnx")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		ort.ReadMetadata(data) // must not panic or hang
	})
}

// The output width is read from the graph without ONNX Runtime.
func TestOutputWidth(t *testing.T) {
	for name, want := range map[string]int64{"colour_tagger.onnx": 4, "colour_embedder.onnx": 3, "colour_text.onnx": 3} {
		b, err := os.ReadFile("../../testdata/models/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if w, ok := ort.OutputWidth(b); !ok || w != want {
			t.Errorf("%s: width %d, %v; want %d", name, w, ok, want)
		}
	}
	m := onnxbuild.PoolLinear("m", "out", [3][]float32{{1}, {2}, {3}}, true, nil)
	m.Outputs[0].Dims[1] = onnxbuild.Dim{Param: "classes"}
	if w, ok := ort.OutputWidth(m.Marshal()); ok {
		t.Errorf("symbolic width: got %d, want none", w)
	}
	if _, ok := ort.OutputWidth([]byte("garbage")); ok {
		t.Error("garbage has a width")
	}
}
