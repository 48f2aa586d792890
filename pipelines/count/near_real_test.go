package main

import (
	"bytes"
	"fmt"
	"image"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/conceptfreq/conceptfreq/internal/shareddata"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/io/wds"
	"github.com/conceptfreq/conceptfreq/models/onnxbuild"
	"github.com/conceptfreq/conceptfreq/models/ort/orttest"
)

// buildCommand builds the command of package pkg (a path relative to
// this one) with cgo, as a user's go run does, into a fresh directory.
func buildCommand(t *testing.T, pkg string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a binary")
	}
	abs, err := filepath.Abs(pkg)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), filepath.Base(abs))
	if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// runCommand runs bin with args and the test's ONNX Runtime library,
// returning what it printed (stdout and stderr) and its error.
func runCommand(t *testing.T, lib, bin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "CONCEPTFREQ_ORT_LIB="+lib)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Similarity control on real photos, the way a user runs it: embed
// --images on a folder of real photos (../shared/data/images, of several
// aspect ratios), then count --near_duplicates on a crawl holding exact
// copies of them, both with their default preprocessing, through a
// Go-built tiny-image encoder in ONNX Runtime. Every exact copy is found
// at similarity ≥ 0.999 as a near-duplicate of its own test image (with
// the defaults of one command cropping and the other squashing, copies of
// non-square photos scored as low as 0.42); img2dataset's plain resizes
// of the motel photo and three edits of it (a 90 % crop, a half-size copy,
// a JPEG re-encode at quality 50) are near-duplicates of the motel. Test
// embeddings made with other preprocessing are refused at launch, naming
// both sides, and run with a warning under --allow_mismatch.
func TestSimilarityControlRealPhotos(t *testing.T) {
	lib := orttest.Lib(t)
	images := shareddata.Path(t, "images")
	embedBin, countBin := buildCommand(t, "../embed"), buildCommand(t, ".")
	dir := t.TempDir()
	model := filepath.Join(dir, "tiny_image.onnx")
	if err := os.WriteFile(model, onnxbuild.TinyImageEncoder().Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	// The test set: four real photos, three of them non-square.
	testSet := filepath.Join(dir, "testset")
	testPhotos := []string{"original.png", "123_456.jpg", "524_316.jpg", "208_495.jpg"}
	for _, name := range testPhotos {
		data, err := os.ReadFile(filepath.Join(images, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(testSet, "photos"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(testSet, "photos", name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	nonSquare := 0
	for _, name := range testPhotos {
		f, err := os.Open(filepath.Join(images, name))
		if err != nil {
			t.Fatal(err)
		}
		cfg, _, err := image.DecodeConfig(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Width != cfg.Height {
			nonSquare++
		}
	}
	if nonSquare < 3 {
		t.Fatalf("%d of the test photos are non-square, want at least 3", nonSquare)
	}
	testPath := filepath.Join(dir, "test_embeddings.parquet")
	if out, err := runCommand(t, lib, embedBin, "--images="+testSet, "--dataset=photos", "--image_model="+model, "--output="+testPath); err != nil {
		t.Fatalf("embed --images: %v\n%s", err, out)
	}
	data, err := os.ReadFile(testPath)
	if err != nil {
		t.Fatal(err)
	}
	prov, err := tables.ReadProvenance(data, testPath)
	if err != nil {
		t.Fatal(err)
	}
	if prov[tables.MetaImageModelSHA256] == "" || !strings.Contains(prov[tables.MetaImageSpec], `"resize":"crop"`) || prov[tables.MetaVersion] == "" {
		t.Errorf("test embeddings record %v; want the model's sha256, its preprocessing (crop, an encoder's default) and the version", prov)
	}
	// The concept embedding: the motel photo's, from the same command.
	conceptPath := filepath.Join(dir, "concepts.parquet")
	var b bytes.Buffer
	rows, err := tables.ReadTestEmbeddings(data, testPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Key == "photos/original" {
			if err := tables.WriteConceptEmbeddings(&b, []string{"motel"}, [][]float32{r.Vector}, nil, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if b.Len() == 0 {
		t.Fatalf("no embedding of photos/original among %d rows", len(rows))
	}
	if err := os.WriteFile(conceptPath, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	// The crawl: exact copies of the test photos, every other real photo,
	// and three edits of the motel.
	original, err := os.ReadFile(filepath.Join(images, "original.png"))
	if err != nil {
		t.Fatal(err)
	}
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
	exact := map[string]string{} // crawl key → the test key it copies
	for _, name := range testPhotos {
		d, err := os.ReadFile(filepath.Join(images, name))
		if err != nil {
			t.Fatal(err)
		}
		key := "copy-" + strings.TrimSuffix(name, filepath.Ext(name))
		members[key] = d
		exact[key] = "photos/" + strings.TrimSuffix(name, filepath.Ext(name))
	}
	files, _ := filepath.Glob(filepath.Join(images, "*.jpg"))
	for _, f := range files {
		if slices.Contains(testPhotos, filepath.Base(f)) {
			continue
		}
		d, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		members[strings.TrimSuffix(filepath.Base(f), ".jpg")] = d
	}
	motelNear := map[string]bool{"edit-crop90": true, "edit-half": true, "edit-q50": true, "389_535": true, "resize_no": true}
	var shardBuf bytes.Buffer
	w := wds.NewWriter(&shardBuf, false)
	for _, key := range slices.Sorted(maps.Keys(members)) {
		ext := "jpg"
		if key == "copy-original" {
			ext = "png"
		}
		if err := w.WriteSample(key, map[string][]byte{ext: members[key], "txt": []byte("a photo of a motel sign")}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	crawl := filepath.Join(dir, "crawl")
	if err := os.MkdirAll(crawl, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(crawl, "crawl-00000.tar"), shardBuf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	vocabPath := filepath.Join(dir, "vocab.txt")
	if err := os.WriteFile(vocabPath, []byte("motel\nsign\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	countArgs := func(out string, extra ...string) []string {
		return append([]string{"--input=" + crawl, "--concepts=" + vocabPath, "--tagger=embedding", "--model=" + model,
			"--concept_embeddings=" + conceptPath, "--near_duplicates=" + testPath, "--near_floor=0.5", "--output=" + out}, extra...)
	}
	out := filepath.Join(dir, "out")
	if msg, err := runCommand(t, lib, countBin, countArgs(out)...); err != nil {
		t.Fatalf("count --near_duplicates: %v\n%s", err, msg)
	}
	got := map[string]tables.NearRow{}
	for _, p := range readParts(t, out, tables.NearDuplicatesDir) {
		if err := tables.ReadNearDuplicates(p.data, func(r tables.NearRow) error { got[r.Key] = r; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	var report []string
	for _, key := range slices.Sorted(maps.Keys(members)) {
		r, listed := got[key]
		report = append(report, fmt.Sprintf("%s→%s %.3f", key, r.TestKey, r.Similarity))
		switch {
		case exact[key] != "":
			if !listed || !r.NearDuplicate || r.TestKey != exact[key] || r.Similarity < 0.999 {
				t.Errorf("exact copy %s: listed %v, near-duplicate %v of %s at %.4f; want a near-duplicate of %s at ≥ 0.999",
					key, listed, r.NearDuplicate, r.TestKey, r.Similarity, exact[key])
			}
		case motelNear[key]:
			if !r.NearDuplicate || r.TestKey != "photos/original" {
				t.Errorf("%s: near-duplicate %v of %s at %.3f; want a near-duplicate of photos/original", key, r.NearDuplicate, r.TestKey, r.Similarity)
			}
		case r.NearDuplicate:
			t.Errorf("%s: a near-duplicate of %s at %.3f; want none", key, r.TestKey, r.Similarity)
		}
	}
	t.Logf("nearest test image: %s", strings.Join(report, ", "))
	rs := readRunStatsFile(t, out)
	if !strings.Contains(rs, `"provenance": "same"`) {
		t.Errorf("run_stats.json does not record the test embeddings' provenance as checked and the same:\n%s", rs)
	}

	// Test embeddings made with another preprocessing: refused at launch,
	// naming both sides; --allow_mismatch runs on with a warning.
	squashed := filepath.Join(dir, "test_embeddings_squash.parquet")
	if msg, err := runCommand(t, lib, embedBin, "--images="+testSet, "--dataset=photos", "--image_model="+model, "--resize=squash", "--output="+squashed); err != nil {
		t.Fatalf("embed --images --resize=squash: %v\n%s", err, msg)
	}
	args := countArgs(filepath.Join(dir, "refused"))
	args[5] = "--near_duplicates=" + squashed
	msg, err := runCommand(t, lib, countBin, args...)
	if err == nil || !strings.Contains(msg, "resize squash ≠ crop") || !strings.Contains(msg, squashed) || !strings.Contains(msg, "--allow_mismatch") {
		t.Errorf("count with squash-embedded test images: %v\n%s\nwant a launch error naming the file, resize squash ≠ crop and --allow_mismatch", err, msg)
	}
	if _, serr := os.Stat(filepath.Join(dir, "refused", tables.RunStatsFile)); serr == nil {
		t.Errorf("a refused launch left a run_stats.json")
	}
	args[len(args)-1] = "--output=" + filepath.Join(dir, "allowed")
	msg, err = runCommand(t, lib, countBin, append(args, "--allow_mismatch")...)
	if err != nil || !strings.Contains(msg, "WARNING") || !strings.Contains(msg, "resize squash ≠ crop") {
		t.Errorf("count --allow_mismatch: %v\n%s\nwant a run with a warning naming the difference", err, msg)
	}
	if rs := readRunStatsFile(t, filepath.Join(dir, "allowed")); !strings.Contains(rs, "mismatch allowed: resize squash ≠ crop") {
		t.Errorf("run_stats.json does not record the mismatch let through:\n%s", rs)
	}
}

// readRunStatsFile is the text of dir's run_stats.json.
func readRunStatsFile(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, tables.RunStatsFile))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
