package main

import (
	"bytes"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/conceptfreq/conceptfreq/internal/shareddata"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/io/wds"
	"github.com/conceptfreq/conceptfreq/models/onnxbuild"
	"github.com/conceptfreq/conceptfreq/models/ort"
	"github.com/conceptfreq/conceptfreq/models/ort/orttest"
	"github.com/conceptfreq/conceptfreq/models/preprocess"
	"github.com/conceptfreq/conceptfreq/models/tagging"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
	"github.com/conceptfreq/conceptfreq/transforms/count"
	"github.com/conceptfreq/conceptfreq/transforms/imagetag"
)

// tinyImageEncoder is a "tiny image" encoder built in Go, the classic
// near-duplicate descriptor: the 32×32 input (mean and std 0.5) averaged
// over a 4×4 grid of 8×8 cells, 48 values, centred on their mean, so
// cosine similarity is the correlation of two images' coarse layouts.
// Unlike the colour embedder (one mean colour) it tells apart photos of
// the same colours.
func tinyImageEncoder() *onnxbuild.Model {
	return &onnxbuild.Model{
		Name:     "tiny_image_encoder",
		Inputs:   []onnxbuild.Value{{Name: "image", Dims: []onnxbuild.Dim{{Param: "batch"}, {Value: 3}, {Value: 32}, {Value: 32}}}},
		Outputs:  []onnxbuild.Value{{Name: "embedding", Dims: []onnxbuild.Dim{{Param: "batch"}, {Value: 48}}}},
		Metadata: map[string]string{tagging.MetaInputSize: "32", tagging.MetaMean: "0.5,0.5,0.5", tagging.MetaStd: "0.5,0.5,0.5"},
		Nodes: []onnxbuild.Node{
			{Op: "AveragePool", Inputs: []string{"image"}, Outputs: []string{"grid"}, IntsAttr: map[string][]int64{"kernel_shape": {8, 8}, "strides": {8, 8}}},
			{Op: "Flatten", Inputs: []string{"grid"}, Outputs: []string{"flat"}, IntAttr: map[string]int64{"axis": 1}},
			{Op: "ReduceMean", Inputs: []string{"flat"}, Outputs: []string{"mean"}, IntsAttr: map[string][]int64{"axes": {1}}, IntAttr: map[string]int64{"keepdims": 1}},
			{Op: "Sub", Inputs: []string{"flat", "mean"}, Outputs: []string{"embedding"}},
		},
	}
}

// Similarity control on real photos (../shared/data/images: img2dataset's
// test photos, which include img2dataset's own resizes of one of them,
// with and without a border) through a Go-built tiny-image encoder in ONNX
// Runtime: with the motel photo as the test set, img2dataset's two plain
// resizes of it and three edits made here (a centre crop, a half-size
// copy, a JPEG re-encode at quality 50) are near-duplicates at the default
// threshold; its letterboxed resize is listed but is not one; the six
// other photos — two of them the same sky blue, at cosine 0.99 with the
// motel under the one-colour embedder — are not even listed.
func TestSimilarityControlRealPhotos(t *testing.T) {
	lib := orttest.Lib(t)
	images := shareddata.Path(t, "images")
	dir := t.TempDir()
	model := filepath.Join(dir, "tiny_image.onnx")
	if err := os.WriteFile(model, tinyImageEncoder().Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	original, err := os.ReadFile(filepath.Join(images, "original.png"))
	if err != nil {
		t.Fatal(err)
	}
	// The test set's embedding, as pipelines/embed --images computes it.
	s, err := ort.Open(model, ort.Options{LibPath: lib})
	if err != nil {
		t.Fatal(err)
	}
	opts := preprocess.Options{Size: 32, Resize: preprocess.Squash, Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.5, 0.5, 0.5}}
	tensor, _, err := preprocess.Decoding{MaxPixels: 50_000_000}.Tensor(original, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	emb, d, err := s.Run(tensor, 1, 32, 32)
	s.Close()
	if err != nil || d != 48 {
		t.Fatalf("embedding the test image: %v (%d dimensions)", err, d)
	}
	var b bytes.Buffer
	if err := tables.WriteTestEmbeddings(&b, []tables.TestEmbedding{{Dataset: "motels", Key: "original", Label: "motel", Vector: emb}}, nil); err != nil {
		t.Fatal(err)
	}
	testPath := filepath.Join(dir, "test_embeddings.parquet")
	if err := os.WriteFile(testPath, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	if err := tables.WriteConceptEmbeddings(&b, []string{"motel"}, [][]float32{emb}, nil); err != nil {
		t.Fatal(err)
	}
	conceptPath := filepath.Join(dir, "concepts.parquet")
	if err := os.WriteFile(conceptPath, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	// The crawl: every real photo but the original, and three edits of it.
	img, _, err := image.Decode(bytes.NewReader(original))
	if err != nil {
		t.Fatal(err)
	}
	bd := img.Bounds()
	crop := img.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(image.Rect(bd.Dx()/20, bd.Dy()/20, bd.Dx()*19/20, bd.Dy()*19/20))
	half := image.NewRGBA(image.Rect(0, 0, bd.Dx()/2, bd.Dy()/2))
	for y := 0; y < bd.Dy()/2; y++ {
		for x := 0; x < bd.Dx()/2; x++ {
			half.Set(x, y, img.At(bd.Min.X+2*x, bd.Min.Y+2*y))
		}
	}
	members := map[string][]byte{
		"edit-crop90": encodeJPEG(t, crop, 90), "edit-half": encodeJPEG(t, half, 90), "edit-q50": encodeJPEG(t, img, 50),
	}
	wantNear := map[string]bool{"edit-crop90": true, "edit-half": true, "edit-q50": true, "389_535": true, "resize_no": true}
	// img2dataset's border mode letterboxes the photo into a square: a
	// layout descriptor sees another layout (listed, ≈ 0.6, not a
	// near-duplicate); CLIP-like encoders are meant to be less literal.
	wantListed := map[string]bool{"resize_border": true}
	files, _ := filepath.Glob(filepath.Join(images, "*.jpg"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		members[strings.TrimSuffix(filepath.Base(f), ".jpg")] = data
	}
	if len(members) != 12 {
		t.Fatalf("%d crawl images, want the 9 real JPEGs and 3 edits", len(members))
	}
	var shardBuf bytes.Buffer
	w := wds.NewWriter(&shardBuf, false)
	for key, data := range members {
		if err := w.WriteSample(key, map[string][]byte{"jpg": data, "txt": []byte("a photo of a motel sign")}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "crawl-00000.tar"), shardBuf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	lem, _ := caption.English()
	v, err := caption.ParseVocabulary(strings.NewReader("motel\nsign\n"), "motel", lem)
	if err != nil {
		t.Fatal(err)
	}
	ic := imagetag.Request{Tagger: "embedding", Model: model, ConceptEmbeddings: conceptPath, Threshold: 0.7, Device: "cpu", BatchSize: 4,
		OrtLib: lib, MaxPixels: 50_000_000, ScoreFloor: 0.3, EmbedScale: 1, EmbedActivation: "none", EmbedTemperature: 1,
		NearDuplicates: testPath, NearThreshold: imagetag.DefaultNearThreshold, NearFloor: 0.5}
	res := runJob(t, "", count.Request{Inputs: []string{filepath.Join(dir, "*.tar")}, Image: ic, Vocabulary: v})
	got := map[string]tables.NearRow{}
	for _, p := range readParts(t, res.dir, tables.NearDuplicatesDir) {
		if err := tables.ReadNearDuplicates(p.data, func(r tables.NearRow) error { got[r.Key] = r; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	var report []string
	for key := range members {
		r, listed := got[key]
		if listed {
			report = append(report, fmt.Sprintf("%s %.3f", key, r.Similarity))
		} else {
			report = append(report, key+" < floor")
		}
		if r.NearDuplicate != wantNear[key] || listed != (wantNear[key] || wantListed[key]) {
			t.Errorf("%s: listed %v, near-duplicate %v (similarity %.3f); want listed %v, near-duplicate %v", key, listed, r.NearDuplicate, r.Similarity,
				wantNear[key] || wantListed[key], wantNear[key])
		}
	}
	slices.Sort(report)
	t.Logf("similarity to the motel photo: %s", strings.Join(report, ", "))
	near := int64(len(wantNear))
	if mc := res.byConcept["sign"]; mc.TextCount != 12 || deref(mc.TextCountDissimilar) != any(12-near) {
		t.Errorf("sign: text %d, text_dissimilar %v; want 12, %d", mc.TextCount, deref(mc.TextCountDissimilar), 12-near)
	}
}
