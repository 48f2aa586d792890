package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"github.com/conceptfreq/conceptfreq/io/reject"
	"github.com/conceptfreq/conceptfreq/transforms/imagetag"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/conceptfreq/conceptfreq/internal/browser"
	"github.com/conceptfreq/conceptfreq/io/beamfs"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/io/wds"
	"github.com/conceptfreq/conceptfreq/models/ort/orttest"
	"github.com/conceptfreq/conceptfreq/models/preprocess"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
	"github.com/conceptfreq/conceptfreq/transforms/count"
)

const modelsDir = "../../testdata/models"

var colours = map[string]color.RGBA{
	"red": {255, 0, 0, 255}, "green": {0, 255, 0, 255}, "blue": {0, 0, 255, 255},
	"white": {255, 255, 255, 255}, "black": {0, 0, 0, 255}, "grey": {100, 100, 100, 255},
}

// colourJPEG is a 24×24 image of one colour, or, when dominant, that colour
// with a 3-pixel white border (81% of the area).
func colourJPEG(name string, dominant bool) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 24, 24))
	for y := 0; y < 24; y++ {
		for x := 0; x < 24; x++ {
			c := colours[name]
			if dominant && (x < 3 || y < 3 || x >= 21 || y >= 21) {
				c = colours["white"]
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	jpeg.Encode(&b, img, &jpeg.Options{Quality: 95})
	return b.Bytes()
}

func hugePNGHeader() []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, 20000)
	binary.BigEndian.PutUint32(ihdr[4:], 10000)
	ihdr[8], ihdr[9] = 8, 2
	binary.Write(&b, binary.BigEndian, uint32(13))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// plantedTruth is what the colour dataset must give, known by construction.
type plantedTruth struct {
	text, image, matched, textOnly, imageOnly map[string]int64
	samples, tagged, considered, misaligned   int64
	withImageConcept, withTextConcept         int64 // tagged samples with a tagged concept / a known caption concept
	imageRejects                              map[string]int64
	rows                                      map[string]tables.SampleRow // per tagged sample, by key
}

// colourDataset writes shards whose images are solid or dominant colours and
// whose captions mention colours, agreeing with the image or not. The colour
// tagger tags exactly red, green and blue images (white, black and grey get
// no tag); "orange" and "car" are vocabulary concepts it does not know.
func colourDataset(t *testing.T, dir string) *plantedTruth {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	tr := &plantedTruth{text: map[string]int64{}, image: map[string]int64{}, matched: map[string]int64{},
		textOnly: map[string]int64{}, imageOnly: map[string]int64{}, imageRejects: map[string]int64{}, rows: map[string]tables.SampleRow{}}
	imgColours := []string{"red", "green", "blue", "white", "black", "grey"}
	words := []string{"red", "green", "blue", "orange", "car"}
	key := 0
	for sh := 0; sh < 3; sh++ {
		shardPath := filepath.Join(dir, fmt.Sprintf("%05d.tar", sh))
		f, err := os.Create(shardPath)
		if err != nil {
			t.Fatal(err)
		}
		w := wds.NewWriter(f, false)
		for i := 0; i < 40; i++ {
			k := fmt.Sprintf("%09d", key)
			key++
			tr.samples++
			ic := imgColours[rng.IntN(len(imgColours))]
			mentioned := map[string]bool{}
			capWords := []string{"a", "photo", "of"}
			for n := rng.IntN(3); n > 0; n-- {
				wd := words[rng.IntN(len(words))]
				if !mentioned[wd] {
					mentioned[wd] = true
					capWords = append(capWords, wd)
				}
			}
			text := strings.Join(capWords, " ")
			members := map[string][]byte{"txt": []byte(text), "json": []byte(`{"caption":"` + text + `"}`)}
			for wd := range mentioned {
				tr.text[wd]++
			}
			bad := ""
			switch key % 29 { // a few unusable images; their text still counts
			case 5:
				members["jpg"] = colourJPEG("red", false)[:200]
				bad = reject.ImageDecode
			case 11:
				members["jpg"] = []byte("BM not an image format we read")
				bad = reject.ImageUnsupported
			case 17:
				members["png"] = hugePNGHeader()
				bad = reject.ImageTooLarge
			case 23:
				bad = reject.ImageMissing
			default:
				members["jpg"] = colourJPEG(ic, rng.IntN(2) == 0)
			}
			if err := w.WriteSample(k, members); err != nil {
				t.Fatal(err)
			}
			if bad != "" {
				tr.imageRejects[bad]++
				continue
			}
			tr.tagged++
			tagged := ic == "red" || ic == "green" || ic == "blue"
			row := tables.SampleRow{Shard: shardPath, Key: k, Caption: text, TextConcepts: []string{}, ImageConcepts: []string{}}
			row.TextConcepts = append(row.TextConcepts, capWords[3:]...) // in caption order
			if tagged {
				tr.image[ic]++
				row.ImageConcepts = append(row.ImageConcepts, ic)
			}
			tr.rows[k] = row
			for _, c := range []string{"red", "green", "blue"} {
				switch {
				case mentioned[c] && tagged && c == ic:
					tr.matched[c]++
				case mentioned[c]:
					tr.textOnly[c]++
				case tagged && c == ic:
					tr.imageOnly[c]++
				}
			}
			known := mentioned["red"] || mentioned["green"] || mentioned["blue"]
			if tagged {
				tr.withImageConcept++
			}
			if known {
				tr.withTextConcept++
			}
			if tagged && known {
				tr.considered++
				if !mentioned[ic] {
					tr.misaligned++
				}
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	return tr
}

func colourVocab(t *testing.T) *caption.Vocabulary {
	t.Helper()
	lem, _ := caption.English()
	v, err := caption.ParseVocabulary(strings.NewReader("red\ngreen\nblue\norange\ncar\n"), "colours", lem)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func imageJob(t *testing.T, dir string, ic imagetag.Request, emitSamples bool) *result {
	t.Helper()
	return runJob(t, "", count.Request{Inputs: []string{dir + "/*.tar"}, Image: ic, EmitSamples: emitSamples, Vocabulary: colourVocab(t)})
}

func baseImageConfig(lib string) imagetag.Request {
	return imagetag.Request{Tagger: "multilabel", Model: modelsDir + "/colour_tagger.onnx", Threshold: 0.7, Device: "cpu",
		BatchSize: 7, OrtLib: lib, Image: preprocess.Flags{MaxPixels: 50_000_000}, ScoreFloor: 0.3, EmbedScale: 1, EmbedActivation: "none", EmbedTemperature: 1}
}

func checkColourTruth(t *testing.T, name string, res *result, tr *plantedTruth) {
	t.Helper()
	st := res.stats
	if st.SamplesRead != tr.samples || st.ImagesTagged != tr.tagged {
		t.Errorf("%s: read %d, tagged %d; want %d, %d", name, st.SamplesRead, st.ImagesTagged, tr.samples, tr.tagged)
	}
	if st.Config.Image.ScoresDir != "" {
		// A recount rejects the samples that had no saved scores.
		var want int64
		for _, n := range tr.imageRejects {
			want += n
		}
		if st.Rejects[reject.ImageNoScores] != want {
			t.Errorf("%s: %d samples without saved scores, want %d", name, st.Rejects[reject.ImageNoScores], want)
		}
	} else {
		for reason, n := range tr.imageRejects {
			if st.Rejects[reason] != n {
				t.Errorf("%s: %s rejects %d, want %d", name, reason, st.Rejects[reason], n)
			}
		}
	}
	if st.MisalignmentConsidered != tr.considered || st.Misaligned != tr.misaligned {
		t.Errorf("%s: misalignment %d of %d, want %d of %d", name, st.Misaligned, st.MisalignmentConsidered, tr.misaligned, tr.considered)
	}
	if want := float64(tr.misaligned) / float64(tr.samples); st.MisalignmentDegree != want {
		t.Errorf("%s: misalignment_degree %v, want %v", name, st.MisalignmentDegree, want)
	}
	if want := float64(tr.misaligned) / float64(max(tr.withImageConcept, tr.withTextConcept)); st.MisalignmentDegreeExtracted != want || want == 0 {
		t.Errorf("%s: misalignment_degree_extracted %v, want %v (misaligned ÷ max(samples with an image concept, with a caption concept))", name, st.MisalignmentDegreeExtracted, want)
	}
	for _, c := range []string{"red", "green", "blue"} {
		r := res.byConcept[c]
		if r.TextCount != tr.text[c] || r.ImageCount == nil || *r.ImageCount != tr.image[c] || *r.MatchedCount != tr.matched[c] ||
			*r.TextOnlyCount != tr.textOnly[c] || *r.ImageOnlyCount != tr.imageOnly[c] {
			t.Errorf("%s: %s: got text %d image %v matched %v text-only %v image-only %v; want %d %d %d %d %d", name, c,
				r.TextCount, deref(r.ImageCount), deref(r.MatchedCount), deref(r.TextOnlyCount), deref(r.ImageOnlyCount),
				tr.text[c], tr.image[c], tr.matched[c], tr.textOnly[c], tr.imageOnly[c])
		}
	}
	for _, c := range []string{"orange", "car"} {
		r := res.byConcept[c]
		if r.TextCount != tr.text[c] || r.ImageCount != nil || r.MatchedCount != nil {
			t.Errorf("%s: %s (unknown to the tagger): got text %d image %v matched %v; want %d, null, null", name, c, r.TextCount, deref(r.ImageCount), deref(r.MatchedCount), tr.text[c])
		}
	}
	if got := st.Config.Image.UnknownConcepts; len(got) != 2 || got[0] != "orange" || got[1] != "car" {
		t.Errorf("%s: unknown concepts %v, want [orange car]", name, got)
	}
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// The planted colour dataset through the real ONNX Runtime on prism: text,
// image, matched, text-only and image-only counts, misalignment and image
// rejects must be exact, for both taggers and with partial batches.
func TestPlantedColoursThroughONNXRuntime(t *testing.T) {
	lib := orttest.Lib(t)
	dir := t.TempDir()
	tr := colourDataset(t, dir)
	if tr.considered == 0 || tr.misaligned == 0 || tr.matched["red"] == 0 || tr.imageOnly["blue"] == 0 {
		t.Fatalf("planted dataset lacks cases: %+v", tr)
	}

	ml := baseImageConfig(lib)
	ml.EmitScores = true
	mlRes := imageJob(t, dir, ml, true)
	checkColourTruth(t, "multilabel (labels from metadata)", mlRes, tr)

	withFile := baseImageConfig(lib)
	withFile.Labels = modelsDir + "/colour_tagger.labels.txt"
	withFile.BatchSize = 1
	checkColourTruth(t, "multilabel (labels file, batch 1)", imageJob(t, dir, withFile, false), tr)

	emb := baseImageConfig(lib)
	emb.Tagger, emb.Model, emb.ConceptEmbeddings, emb.BatchSize = "embedding", modelsDir+"/colour_embedder.onnx", modelsDir+"/colour_concepts.parquet", 64
	checkColourTruth(t, "embedding (batch 64)", imageJob(t, dir, emb, false), tr)

	// Recount from the saved scores, without the model.
	re := imagetag.Request{ScoresDir: mlRes.dir, Threshold: 0.9, BatchSize: 1, Device: "cpu"}
	reRes := imageJob(t, dir, re, false)
	checkColourTruth(t, "recount from image_scores.parquet", reRes, tr)

	checkSampleRows(t, mlRes.dir, tr)
	checkScoreRows(t, mlRes.dir, tr)
}

// checkSampleRows reads sample_concepts.parquet back and checks every column
// of every row against the planted truth: one row per tagged sample.
func checkSampleRows(t *testing.T, dir string, tr *plantedTruth) {
	t.Helper()
	seen := map[string]bool{}
	for _, part := range readParts(t, dir, tables.SampleConceptsDir) {
		if err := tables.ReadSamples(part.data, func(r tables.SampleRow) error {
			if tables.PartName(r.Shard) != part.name {
				t.Errorf("sample_concepts/%s holds a row of shard %s", part.name, r.Shard)
			}
			want, ok := tr.rows[r.Key]
			switch {
			case !ok:
				t.Errorf("sample_concepts: row for key %s, which was not tagged", r.Key)
			case seen[r.Key]:
				t.Errorf("sample_concepts: key %s twice", r.Key)
			case !reflect.DeepEqual(r, want):
				t.Errorf("sample_concepts: key %s:\n got  %+v\n want %+v", r.Key, r, want)
			}
			seen[r.Key] = true
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != len(tr.rows) {
		t.Errorf("sample_concepts: %d rows, want one per tagged sample (%d)", len(seen), len(tr.rows))
	}
}

// checkScoreRows reads image_scores.parquet back: one row per tagged sample
// with its shard, every score at or above the 0.3 floor, the planted colour
// above the 0.7 threshold and nothing else above it.
func checkScoreRows(t *testing.T, dir string, tr *plantedTruth) {
	t.Helper()
	seen := map[string]bool{}
	for _, part := range readParts(t, dir, tables.ImageScoresDir) {
		if err := tables.ReadScores(part.data, func(r tables.ScoreRow) error {
			if tables.PartName(r.Shard) != part.name {
				t.Errorf("image_scores/%s holds a row of shard %s", part.name, r.Shard)
			}
			want, ok := tr.rows[r.Key]
			if !ok || seen[r.Key] {
				t.Errorf("image_scores: unexpected or repeated key %s", r.Key)
				return nil
			}
			seen[r.Key] = true
			if r.Shard != want.Shard {
				t.Errorf("image_scores: key %s: shard %q, want %q", r.Key, r.Shard, want.Shard)
			}
			if len(r.Concepts) != len(r.Scores) {
				t.Errorf("image_scores: key %s: %d concepts, %d scores", r.Key, len(r.Concepts), len(r.Scores))
				return nil
			}
			var above []string
			for i, s := range r.Scores {
				if s < 0.3 {
					t.Errorf("image_scores: key %s: score %v of %s below the floor", r.Key, s, r.Concepts[i])
				}
				if s > 0.7 {
					above = append(above, r.Concepts[i])
				}
			}
			if !reflect.DeepEqual(append([]string{}, above...), want.ImageConcepts) {
				t.Errorf("image_scores: key %s: concepts above the threshold %v, want %v", r.Key, above, want.ImageConcepts)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != len(tr.rows) {
		t.Errorf("image_scores: %d rows, want one per tagged sample (%d)", len(seen), len(tr.rows))
	}
}

func TestImageConfigErrors(t *testing.T) {
	ctx := context.Background()
	v := colourVocab(t)
	for _, tc := range []struct {
		name string
		ic   imagetag.Request
		want string
	}{
		{"no model", imagetag.Request{Tagger: "multilabel", Threshold: 0.7, BatchSize: 1, Device: "cpu"}, "multilabel tagger needs a model"},
		{"bad device", imagetag.Request{Tagger: "multilabel", Model: modelsDir + "/colour_tagger.onnx", Threshold: 0.7, BatchSize: 1, Device: "npu"}, `device "npu"`},
		{"embedding no file", imagetag.Request{Tagger: "embedding", Model: modelsDir + "/colour_embedder.onnx", Threshold: 0.7, BatchSize: 1, Device: "cpu"}, "needs concept embeddings"},
		{"floor above", imagetag.Request{Tagger: "multilabel", Model: modelsDir + "/colour_tagger.onnx", Threshold: 0.5, ScoreFloor: 0.6, EmitScores: true, BatchSize: 1, Device: "cpu"}, "score floor 0.6 is above the threshold 0.5"},
		{"missing model", imagetag.Request{Tagger: "multilabel", Model: modelsDir + "/nope.onnx", Threshold: 0.7, BatchSize: 1, Device: "cpu"}, "nope.onnx"},
		{"bad tagger", imagetag.Request{Tagger: "ram", Model: modelsDir + "/colour_tagger.onnx", Threshold: 0.7, BatchSize: 1, Device: "cpu"}, `tagger "ram"`},
		{"threshold", imagetag.Request{Tagger: "multilabel", Model: modelsDir + "/colour_tagger.onnx", Threshold: 1.5, BatchSize: 1, Device: "cpu"}, "threshold 1.5"},
		{"batch", imagetag.Request{Tagger: "multilabel", Model: modelsDir + "/colour_tagger.onnx", Threshold: 0.7, BatchSize: 0, Device: "cpu"}, "batch size 0"},
		{"unknown labels", imagetag.Request{Tagger: "multilabel", Model: modelsDir + "/colour_tagger.onnx", Labels: writeLabels(t, "zebra\nlion\ntiger\nbear\n"), Threshold: 0.7, BatchSize: 1, Device: "cpu"}, imagetag.ErrNothingKnown.Error()},
		{"labels vs outputs", imagetag.Request{Tagger: "multilabel", Model: modelsDir + "/colour_tagger.onnx", Labels: writeLabels(t, "red\ngreen\nblue\n"), Threshold: 0.7, BatchSize: 1, Device: "cpu"}, "has 4 output columns but 3 labels"},
		{"embedding width", imagetag.Request{Tagger: "embedding", Model: modelsDir + "/colour_tagger.onnx", ConceptEmbeddings: modelsDir + "/colour_concepts.parquet", Threshold: 0.7, BatchSize: 1, Device: "cpu"}, "gives 4-dimensional embeddings but the concept embeddings"},
	} {
		cfg := count.Request{Output: t.TempDir(), Image: tc.ic, Vocabulary: v}
		before := fmt.Sprintf("%+v", cfg)
		_, err := cfg.Resolve(ctx, beamfs.ReadAll)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
		if after := fmt.Sprintf("%+v", cfg); after != before {
			t.Errorf("%s: Resolve changed the configuration it was given", tc.name)
		}
	}
}

func writeLabels(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "labels.txt")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A binary built without cgo (as Beam's Dataflow launcher cross-compiles)
// counts text but refuses to tag images, saying why.
func TestCgoOffBinaryRefusesImages(t *testing.T) {
	bin := buildLauncher(t)
	out, err := exec.Command(bin, "--input=../../testdata/webdataset/compressed.tar", "--output="+t.TempDir(),
		"--model="+modelsDir+"/colour_tagger.onnx").CombinedOutput()
	if err == nil {
		t.Fatalf("image tagging ran without cgo:\n%s", out)
	}
	if !strings.Contains(string(out), "built without ONNX support (CGO_ENABLED=0)") {
		t.Errorf("unclear error:\n%s", out)
	}
	out, err = exec.Command(bin, "--input=../../testdata/webdataset/compressed.tar", "--output="+t.TempDir()).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "3 samples read") {
		t.Errorf("text-only run without cgo: %v\n%s", err, out)
	}
}

// Notebooks read the image-side outputs too: DuckDB on the nested columns
// of image_scores.parquet and sample_concepts.parquet and the nullable
// counts of concept_counts.parquet.
func TestDuckDBReadsImageOutputs(t *testing.T) {
	lib := orttest.Lib(t)
	dir := t.TempDir()
	tr := colourDataset(t, dir)
	ic := baseImageConfig(lib)
	ic.EmitScores = true
	res := imageJob(t, dir, ic, true)
	var counts []struct {
		Concept string  `json:"concept"`
		Image   *string `json:"image_count"`
		Matched *string `json:"matched_count"`
	}
	duckdb(t, fmt.Sprintf("select concept, image_count, matched_count from '%s/%s' order by concept", res.dir, tables.ConceptCountsFile), &counts)
	for _, c := range counts {
		known := c.Concept == "red" || c.Concept == "green" || c.Concept == "blue"
		if known != (c.Image != nil) || known != (c.Matched != nil) {
			t.Errorf("%s: image %v matched %v (null exactly for unknown concepts)", c.Concept, c.Image, c.Matched)
		}
		if c.Concept == "red" && *c.Image != fmt.Sprint(tr.image["red"]) {
			t.Errorf("red: duckdb image_count %s, want %d", *c.Image, tr.image["red"])
		}
	}
	var scored []struct {
		N     string  `json:"n"`
		Top   string  `json:"top"`
		Score float64 `json:"s"`
	}
	duckdb(t, fmt.Sprintf("select count(*) as n, max(s.concept) as top, max(s.score) as s from (select unnest(scores) as s from '%s/%s/*.parquet') where s.score > 0.7",
		res.dir, tables.ImageScoresDir), &scored)
	var tagged int64
	for _, c := range []string{"red", "green", "blue"} {
		tagged += tr.image[c]
	}
	if len(scored) != 1 || scored[0].N != fmt.Sprint(tagged) {
		t.Errorf("duckdb: scores above 0.7: %+v, want %d", scored, tagged)
	}
	var samples []struct {
		N string `json:"n"`
	}
	duckdb(t, fmt.Sprintf("select count(*) as n from '%s/%s/*.parquet' where len(image_concepts) > 0", res.dir, tables.SampleConceptsDir), &samples)
	if len(samples) != 1 || samples[0].N != fmt.Sprint(tagged) {
		t.Errorf("duckdb: samples with image concepts: %+v, want %d", samples, tagged)
	}
}

// The count report of a tagging run in a real browser: no console errors,
// the run summary on the first screen, the misalignment figures of
// run_stats.json, and every image decodes.
func TestCountReportInBrowser(t *testing.T) {
	lib := orttest.Lib(t)
	browser.Path(t)
	dir := t.TempDir()
	colourDataset(t, dir)
	res := imageJob(t, dir, baseImageConfig(lib), false)
	probe := `
	  var s = document.getElementById('summary-table').getBoundingClientRect();
	  return {top: s.top, bottom: s.bottom, height: window.innerHeight, text: document.body.innerText,
	    images: document.images.length, broken: Array.prototype.filter.call(document.images, function (i) { return !i.naturalWidth; }).length};`
	r := browser.Load(t, filepath.Join(res.dir, count.ReportFile), 1400, 1000, probe)
	if len(r.Errors) != 0 {
		t.Errorf("console errors: %v", r.Errors)
	}
	var p struct {
		Top, Bottom, Height float64
		Text                string
		Images, Broken      int
	}
	if err := json.Unmarshal(r.Probe, &p); err != nil {
		t.Fatalf("probe %s: %v", r.Probe, err)
	}
	if p.Top < 0 || p.Bottom > p.Height {
		t.Errorf("run summary at %v–%v px, want it within the first screen (%v px)", p.Top, p.Bottom, p.Height)
	}
	st := res.stats
	for _, want := range []string{
		fmt.Sprintf("%d of %d samples considered", st.Misaligned, st.MisalignmentConsidered),
		fmt.Sprintf("%d images tagged", st.ImagesTagged),
		"samples whose image shows it vs samples whose caption mentions it", "Most frequent", "Least frequent", "image_decode_failed",
	} {
		if !strings.Contains(p.Text, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if p.Images != 2 || p.Broken != 0 {
		t.Errorf("%d images (%d broken), want the rank plot and the image-vs-caption scatter", p.Images, p.Broken)
	}
}
