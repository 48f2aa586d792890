package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/conceptfreq/conceptfreq/internal/flagtest"
	"github.com/conceptfreq/conceptfreq/io/reject"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/io/wds"
	"github.com/conceptfreq/conceptfreq/models/ort/orttest"
	"github.com/conceptfreq/conceptfreq/transforms/neardup"
)

func solidJPEG(t *testing.T, c color.RGBA, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, 255
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func cos(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// A planted test set through the colour embedder: every image embedded,
// unit-length, labelled from .cls; the broken and the image-less samples
// are rejects; and the file feeds the near-duplicate search, in which a
// test image's nearest neighbour is one of its colour at ≈ 1.
func TestEmbedTestImages(t *testing.T) {
	orttest.Lib(t)
	dir := t.TempDir()
	red, blue := color.RGBA{220, 20, 20, 255}, color.RGBA{20, 20, 220, 255}
	var b bytes.Buffer
	w := wds.NewWriter(&b, false)
	for i := 0; i < 5; i++ {
		c, label := red, "red"
		if i >= 3 {
			c, label = blue, "blue"
		}
		w.WriteSample(fmt.Sprintf("s%d", i), map[string][]byte{"jpg": solidJPEG(t, c, 40+i, 30), "cls": []byte(label + "\n")})
	}
	w.WriteSample("broken", map[string][]byte{"jpg": []byte("\xff\xd8\xff not a jpeg")})
	w.WriteSample("textonly", map[string][]byte{"txt": []byte("a caption")})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	shardPath := filepath.Join(dir, "test-00000.tar")
	if err := os.WriteFile(shardPath, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "test_embeddings.parquet")
	flagtest.Set(t, "--images="+shardPath, "--dataset=planted", "--image_model=../../testdata/models/colour_embedder.onnx",
		"--output="+out, "--batch_size=2")
	var stdout bytes.Buffer
	if err := run(context.Background(), &stdout); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := tables.ReadTestEmbeddings(data, out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 5 {
		t.Fatalf("%d rows, want 5: %+v", len(rows), rows)
	}
	for i, r := range rows {
		want := "red"
		if i >= 3 {
			want = "blue"
		}
		if r.Dataset != "planted" || r.Key != fmt.Sprintf("s%d", i) || r.Label != want || len(r.Vector) != 3 || math.Abs(cos(r.Vector, r.Vector)-1) > 1e-5 {
			t.Errorf("row %d: %+v", i, r)
		}
	}
	if c := cos(rows[0].Vector, rows[4].Vector); c > 0.9 {
		t.Errorf("red and blue embeddings at cosine %v", c)
	}
	rf, err := os.Open(filepath.Join(dir, "test_embeddings_rejects.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	rejects, err := tables.ReadRejects(rf, nil)
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(rejects, func(i, j int) bool { return rejects[i].Key < rejects[j].Key })
	if len(rejects) != 2 || rejects[0].Key != "broken" || rejects[0].Reason != reject.ImageDecode || rejects[1].Key != "textonly" || rejects[1].Reason != reject.ImageMissing {
		t.Errorf("rejects %+v, want broken (image_decode) and textonly (image_missing)", rejects)
	}

	// The near-duplicate search over the file.
	x := &neardup.Index{}
	for _, r := range rows {
		if err := x.Add(r.Dataset, r.Key, r.Label, r.Vector); err != nil {
			t.Fatal(err)
		}
	}
	match := make([]neardup.Match, 2)
	if err := (&neardup.GoSearcher{Index: x}).Nearest(append(append([]float32{}, rows[1].Vector...), rows[3].Vector...), 2, match); err != nil {
		t.Fatal(err)
	}
	if x.Label[match[0].Index] != "red" || match[0].Similarity < 0.999 || x.Label[match[1].Index] != "blue" || match[1].Similarity < 0.999 {
		t.Errorf("nearest: %+v", match)
	}

	// A folder holding shards reads as those shards (as count's --input),
	// not as a folder of image files.
	out2 := filepath.Join(t.TempDir(), "from_folder.parquet")
	flagtest.Set(t, "--images="+dir, "--dataset=planted", "--image_model=../../testdata/models/colour_embedder.onnx", "--output="+out2)
	if err := run(context.Background(), &stdout); err != nil {
		t.Fatal(err)
	}
	data2, err := os.ReadFile(out2)
	if err != nil {
		t.Fatal(err)
	}
	if rows2, err := tables.ReadTestEmbeddings(data2, out2, nil); err != nil || len(rows2) != 5 || rows2[0].Key != "s0" || rows2[0].Label != "red" {
		t.Errorf("--images=<folder of shards>: %d rows, %v", len(rows2), err)
	}
}
