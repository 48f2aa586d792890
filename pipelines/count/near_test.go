package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conceptfreq/conceptfreq/internal/synth"
	"github.com/conceptfreq/conceptfreq/io/beamfs"
	"github.com/conceptfreq/conceptfreq/io/reject"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/io/wds"
	"github.com/conceptfreq/conceptfreq/models/onnxbuild"
	"github.com/conceptfreq/conceptfreq/models/ort/orttest"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
	"github.com/conceptfreq/conceptfreq/transforms/count"
	"github.com/conceptfreq/conceptfreq/transforms/imagetag"
)

// nearImage draws a w×h image of colour c whose leftmost stripe columns
// are white.
func nearImage(c color.RGBA, w, h, stripe int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if x < stripe {
				img.Set(x, y, color.RGBA{255, 255, 255, 255})
			} else {
				img.Set(x, y, c)
			}
		}
	}
	return img
}

func encodeJPEG(t *testing.T, img image.Image, q int) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodePNG(t *testing.T, img image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// colourEmbedding is what the planted colour embedder gives an image of
// mean colour rgb (0–255): the mean normalised with 0.5, 0.5.
func colourEmbedding(rgb [3]float64) []float32 {
	var e []float32
	for _, v := range rgb {
		e = append(e, float32((v/255-0.5)/0.5))
	}
	return e
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

// nearTruth is what similarity control must give on the planted set.
type nearTruth struct {
	text, textDis, image, imageDis, matched, matchedDis map[string]int64
	dupsBySet                                           map[string]int64
	rows                                                map[string]tables.NearRow // by sample key: the near_duplicates/ rows
	similarity                                          map[string]float64        // by sample key: the expected similarity of a listed row
	searched                                            int64
}

// nearDataset writes two test sets of solid-colour images (setA: red and
// green, setB: blue) as a test_embeddings.parquet, and two pretraining
// shards in which some images are copies of test images (the same bytes,
// resized, cropped out of a larger image, re-encoded at JPEG quality 40):
// near-duplicates at the default threshold. Others are the same colour
// with a white stripe: one ≈ 0.93 similar to its test image (listed in
// near_duplicates/ at the default floor, not a near-duplicate), one ≈
// 0.87 (not listed); the rest are colours no test image has (white,
// black, yellow, cyan: similarity ≤ 1/3) or unusable images, whose
// captions still count in both the plain and the _dissimilar counts.
func nearDataset(t *testing.T, dir string) (string, *nearTruth) {
	t.Helper()
	type testImage struct{ set, key, colour string }
	tests := []testImage{{"setA", "a/red", "red"}, {"setA", "a/green", "green"}, {"setB", "b/blue", "blue"}}
	testBytes := map[string][]byte{}
	var embs []tables.TestEmbedding
	rgb := func(name string) [3]float64 {
		c := colours[name]
		if name == "yellow" {
			c = color.RGBA{255, 255, 0, 255}
		} else if name == "cyan" {
			c = color.RGBA{0, 255, 255, 255}
		}
		return [3]float64{float64(c.R), float64(c.G), float64(c.B)}
	}
	rgba := func(name string) color.RGBA {
		v := rgb(name)
		return color.RGBA{uint8(v[0]), uint8(v[1]), uint8(v[2]), 255}
	}
	for _, ti := range tests {
		testBytes[ti.colour] = encodeJPEG(t, nearImage(rgba(ti.colour), 24, 24, 0), 95)
		embs = append(embs, tables.TestEmbedding{Dataset: ti.set, Key: ti.key, Label: ti.colour, Vector: colourEmbedding(rgb(ti.colour))})
	}
	embPath := filepath.Join(dir, "test_embeddings.parquet")
	var eb bytes.Buffer
	if err := tables.WriteTestEmbeddings(&eb, embs, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(embPath, eb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	setOf := map[string]testImage{}
	for _, ti := range tests {
		setOf[ti.colour] = ti
	}

	tr := &nearTruth{text: map[string]int64{}, textDis: map[string]int64{}, image: map[string]int64{}, imageDis: map[string]int64{},
		matched: map[string]int64{}, matchedDis: map[string]int64{}, dupsBySet: map[string]int64{},
		rows: map[string]tables.NearRow{}, similarity: map[string]float64{}}
	kinds := []string{"copy", "resized", "cropped", "reencoded", "stripe-listed", "stripe-far", "other", "other", "broken", "missing"}
	base := []string{"red", "green", "blue"}
	others := []string{"white", "black", "yellow", "cyan"}
	words := []string{"red", "green", "blue", "orange", "car"}
	rng := rand.New(rand.NewPCG(3, 5))
	key := 0
	for sh := 0; sh < 2; sh++ {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("pre-%d.tar", sh)))
		if err != nil {
			t.Fatal(err)
		}
		w := wds.NewWriter(f, false)
		for i := 0; i < 31; i++ {
			k := fmt.Sprintf("%09d", key)
			key++
			kind := kinds[rng.IntN(len(kinds))]
			col := base[rng.IntN(len(base))]
			mentioned := map[string]bool{}
			capWords := []string{"a", "photo", "of"}
			for n := 1 + rng.IntN(2); n > 0; n-- {
				wd := words[rng.IntN(len(words))]
				if !mentioned[wd] {
					mentioned[wd] = true
					capWords = append(capWords, wd)
				}
			}
			text := strings.Join(capWords, " ")
			members := map[string][]byte{"txt": []byte(text)}
			tagged, dup, listed := "", false, false
			var sim float64
			switch kind {
			case "copy":
				members["jpg"] = testBytes[col]
			case "resized":
				members["jpg"] = encodeJPEG(t, nearImage(rgba(col), 57, 41, 0), 90)
			case "cropped":
				big := nearImage(rgba(col), 60, 60, 0)
				for y := 0; y < 60; y++ { // a frame the crop cuts away
					for x := 0; x < 60; x++ {
						if x < 10 || y < 10 || x >= 50 || y >= 50 {
							big.Set(x, y, color.RGBA{0, 0, 0, 255})
						}
					}
				}
				members["jpg"] = encodeJPEG(t, big.SubImage(image.Rect(10, 10, 50, 50)), 90)
			case "reencoded":
				img, err := jpeg.Decode(bytes.NewReader(testBytes[col]))
				if err != nil {
					t.Fatal(err)
				}
				members["jpg"] = encodeJPEG(t, img, 40)
			case "stripe-listed", "stripe-far":
				stripe := 13 // of 48 columns white: similarity ≈ 0.929
				if kind == "stripe-far" {
					stripe = 16 // ≈ 0.870
				}
				members["png"] = encodePNG(t, nearImage(rgba(col), 48, 48, stripe))
				f := float64(stripe) / 48
				mean := rgb(col)
				for c := range mean {
					mean[c] = mean[c]*(1-f) + 255*f
				}
				sim = cosine(colourEmbedding(mean), colourEmbedding(rgb(col)))
				listed = sim >= imagetag.DefaultNearFloor
			case "other":
				col = others[rng.IntN(len(others))]
				members["jpg"] = encodeJPEG(t, nearImage(rgba(col), 24, 24, 0), 95)
			case "broken":
				members["jpg"] = testBytes[col][:150]
			}
			switch kind {
			case "copy", "resized", "cropped", "reencoded":
				dup, listed, sim, tagged = true, true, 1, col
			case "stripe-listed", "stripe-far":
				tagged = col // cosine with its colour's concept > 0.7
			}
			if err := w.WriteSample(k, members); err != nil {
				t.Fatal(err)
			}
			for wd := range mentioned {
				tr.text[wd]++
				if !dup {
					tr.textDis[wd]++
				}
			}
			if kind != "broken" && kind != "missing" {
				tr.searched++
			}
			if tagged != "" {
				tr.image[tagged]++
				if !dup {
					tr.imageDis[tagged]++
				}
				if mentioned[tagged] {
					tr.matched[tagged]++
					if !dup {
						tr.matchedDis[tagged]++
					}
				}
			}
			if dup {
				tr.dupsBySet[setOf[col].set]++
			}
			if listed {
				ti := setOf[col]
				tr.rows[k] = tables.NearRow{Shard: f.Name(), Key: k, Dataset: ti.set, TestKey: ti.key, TestLabel: ti.colour, NearDuplicate: dup}
				tr.similarity[k] = sim
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	return embPath, tr
}

func nearRequest(lib, embPath string) imagetag.Request {
	ic := baseImageConfig(lib)
	ic.Tagger, ic.Model, ic.ConceptEmbeddings, ic.BatchSize = "embedding", modelsDir+"/colour_embedder.onnx", modelsDir+"/colour_concepts.parquet", 5
	ic.NearDuplicates, ic.NearThreshold, ic.NearFloor = embPath, imagetag.DefaultNearThreshold, imagetag.DefaultNearFloor
	return ic
}

func checkNearTruth(t *testing.T, name string, res *result, tr *nearTruth) {
	t.Helper()
	for _, c := range []string{"red", "green", "blue", "orange", "car"} {
		r := res.byConcept[c]
		if r.TextCount != tr.text[c] || deref(r.TextCountDissimilar) != any(tr.textDis[c]) {
			t.Errorf("%s: %s: text %d, text_dissimilar %v; want %d, %d", name, c, r.TextCount, deref(r.TextCountDissimilar), tr.text[c], tr.textDis[c])
		}
		if c == "orange" || c == "car" {
			if r.ImageCountDissimilar != nil || r.MatchedCountDissimilar != nil {
				t.Errorf("%s: %s (unknown to the tagger): image/matched_dissimilar %v %v, want null", name, c, deref(r.ImageCountDissimilar), deref(r.MatchedCountDissimilar))
			}
			continue
		}
		if deref(r.ImageCount) != any(tr.image[c]) || deref(r.ImageCountDissimilar) != any(tr.imageDis[c]) ||
			deref(r.MatchedCount) != any(tr.matched[c]) || deref(r.MatchedCountDissimilar) != any(tr.matchedDis[c]) {
			t.Errorf("%s: %s: image %v/%v matched %v/%v (all/dissimilar); want %d/%d %d/%d", name, c,
				deref(r.ImageCount), deref(r.ImageCountDissimilar), deref(r.MatchedCount), deref(r.MatchedCountDissimilar),
				tr.image[c], tr.imageDis[c], tr.matched[c], tr.matchedDis[c])
		}
	}
	got := map[string]tables.NearRow{}
	for _, p := range readParts(t, res.dir, tables.NearDuplicatesDir) {
		if err := tables.ReadNearDuplicates(p.data, func(r tables.NearRow) error {
			if _, dup := got[r.Key]; dup {
				t.Errorf("%s: sample %s listed twice", name, r.Key)
			}
			got[r.Key] = r
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != len(tr.rows) {
		t.Errorf("%s: %d near_duplicates rows, want %d", name, len(got), len(tr.rows))
	}
	for k, want := range tr.rows {
		r, ok := got[k]
		if !ok {
			t.Errorf("%s: sample %s not in near_duplicates/", name, k)
			continue
		}
		sim := r.Similarity
		r.Similarity = 0
		if r != want {
			t.Errorf("%s: sample %s: row %+v, want %+v", name, k, r, want)
		}
		if math.Abs(float64(sim)-tr.similarity[k]) > 0.01 {
			t.Errorf("%s: sample %s: similarity %v, want ≈ %.3f", name, k, sim, tr.similarity[k])
		}
	}
	nc := res.stats.NearDuplicateControl
	if nc == nil {
		t.Fatalf("%s: run_stats.json has no similarity_control", name)
	}
	var dups int64
	for _, s := range nc.ByTestSet {
		if s.NearDuplicates != tr.dupsBySet[s.Dataset] {
			t.Errorf("%s: test set %s: %d near-duplicates, want %d", name, s.Dataset, s.NearDuplicates, tr.dupsBySet[s.Dataset])
		}
		dups += tr.dupsBySet[s.Dataset]
	}
	if len(nc.ByTestSet) != 2 || nc.NearDuplicates != dups || nc.ImagesSearched != tr.searched || nc.Listed != int64(len(tr.rows)) {
		t.Errorf("%s: similarity_control %+v; want 2 test sets, %d near-duplicates, %d searched, %d listed", name, nc, dups, tr.searched, len(tr.rows))
	}
	if len(nc.MostAffected) == 0 || nc.MostAffected[0].RemovedFraction <= 0 {
		t.Errorf("%s: most affected concepts %+v", name, nc.MostAffected)
	}
}

// Similarity control on a planted set through the real ONNX Runtime: the
// near_duplicates/ rows, the _dissimilar counts and run_stats.json are
// exact at the default threshold and floor; with --state a second run
// reuses every shard's partial and gives the same outputs, and another
// threshold is another fingerprint.
func TestSimilarityControlPlanted(t *testing.T) {
	lib := orttest.Lib(t)
	dir := t.TempDir()
	embPath, tr := nearDataset(t, dir)
	if tr.dupsBySet["setA"] == 0 || tr.dupsBySet["setB"] == 0 || len(tr.rows) <= int(tr.dupsBySet["setA"]+tr.dupsBySet["setB"]) {
		t.Fatalf("planted set lacks cases: %+v", tr)
	}
	stateDir := t.TempDir()
	req := count.Request{Inputs: []string{dir + "/*.tar"}, Image: nearRequest(lib, embPath), Vocabulary: colourVocab(t), StateDir: stateDir}
	first := runJob(t, "", req)
	checkNearTruth(t, "first run", first, tr)
	if first.stats.Rejects[reject.ImageDecode] == 0 || first.stats.Rejects[reject.ImageMissing] == 0 {
		t.Errorf("rejects %v: want image_decode and image_missing", first.stats.Rejects)
	}
	page, err := os.ReadFile(filepath.Join(first.dir, count.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`id="similarity"`, `<td class="l">setA</td>`, `<td class="l">setB</td>`, `id="near-affected"`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report.html lacks %s", want)
		}
	}
	if im := first.stats.Config.Image.NearDuplicates; im == nil || len(im.Files) != 1 || im.Files[0].SHA256 == "" || im.Files[0].Images != 3 || im.Dim != 3 {
		t.Errorf("config.image.near_duplicates %+v", im)
	}

	req.Output = ""
	second := runJob(t, "", req)
	if second.stats.ShardsReused != 2 {
		t.Errorf("second run reused %d shards, want 2", second.stats.ShardsReused)
	}
	checkNearTruth(t, "second run (from --state)", second, tr)

	other := req
	other.Output = ""
	other.Image.NearThreshold = 0.99
	third := runJob(t, "", other)
	if third.stats.ShardsReused != 0 || third.stats.Config.PartialsDir == first.stats.Config.PartialsDir {
		t.Errorf("another threshold reused %d shards (state %s, first %s): want a new fingerprint", third.stats.ShardsReused, third.stats.Config.PartialsDir, first.stats.Config.PartialsDir)
	}

	// DuckDB reads the new columns and the near_duplicates/ parts.
	var dis []struct {
		Concept string  `json:"concept"`
		Matched *string `json:"matched_count_dissimilar"`
	}
	duckdb(t, fmt.Sprintf("select concept, matched_count_dissimilar from '%s/%s' where concept = 'red'", first.dir, tables.ConceptCountsFile), &dis)
	if len(dis) != 1 || dis[0].Matched == nil || *dis[0].Matched != fmt.Sprint(tr.matchedDis["red"]) {
		t.Errorf("duckdb: red matched_count_dissimilar %+v, want %d", dis, tr.matchedDis["red"])
	}
	var bySet []struct {
		Set string `json:"test_dataset"`
		N   string `json:"n"`
	}
	duckdb(t, fmt.Sprintf("select test_dataset, count(*) as n from '%s/%s/*.parquet' where near_duplicate group by all order by 1", first.dir, tables.NearDuplicatesDir), &bySet)
	if len(bySet) != 2 || bySet[0].Set != "setA" || bySet[0].N != fmt.Sprint(tr.dupsBySet["setA"]) || bySet[1].N != fmt.Sprint(tr.dupsBySet["setB"]) {
		t.Errorf("duckdb: near-duplicates by test set %+v, want setA %d, setB %d", bySet, tr.dupsBySet["setA"], tr.dupsBySet["setB"])
	}
}

// The crawl-to-law set (make crawl-to-law) under similarity control with
// the planted colour CLIP: every class's matched count is its planted
// count, and without the near-duplicates (the crawl's copies of the
// evaluation images) it is the planted count less the copies.
func TestColourLawSimilarityControl(t *testing.T) {
	lib := orttest.Lib(t)
	data := t.TempDir()
	tr, err := synth.ColourLaw(data)
	if err != nil {
		t.Fatal(err)
	}
	var testEmb []tables.TestEmbedding
	var names []string
	var vecs [][]float32
	for _, n := range tr.Classes {
		v := onnxbuild.ColourVector(onnxbuild.PlantedColours[n])
		names, vecs = append(names, n), append(vecs, v[:])
		testEmb = append(testEmb, tables.TestEmbedding{Dataset: "colours", Key: "eval/" + n, Label: n, Vector: v[:]})
	}
	var cb, eb bytes.Buffer
	if err := tables.WriteConceptEmbeddings(&cb, names, vecs, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := tables.WriteTestEmbeddings(&eb, testEmb, nil, nil); err != nil {
		t.Fatal(err)
	}
	cpath, epath := filepath.Join(data, "concept_embeddings.parquet"), filepath.Join(data, "test_embeddings.parquet")
	if err := os.WriteFile(cpath, cb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(epath, eb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	lem, _ := caption.English()
	v, err := caption.ParseVocabulary(strings.NewReader(strings.Join(tr.Classes, "\n")+"\n"), "classes", lem)
	if err != nil {
		t.Fatal(err)
	}
	ic := baseImageConfig(lib)
	ic.Tagger, ic.Model, ic.ConceptEmbeddings, ic.BatchSize = "embedding", modelsDir+"/colour_embedder.onnx", cpath, 64
	ic.NearDuplicates, ic.NearThreshold, ic.NearFloor = epath, imagetag.DefaultNearThreshold, imagetag.DefaultNearFloor
	res := runJob(t, "", count.Request{Inputs: []string{filepath.Join(data, "crawl", "*.tar")}, Image: ic, Vocabulary: v})
	var copies int64
	for _, n := range tr.Classes {
		r := res.byConcept[n]
		copies += tr.Copies[n]
		if deref(r.MatchedCount) != any(tr.Count[n]) || deref(r.MatchedCountDissimilar) != any(tr.Count[n]-tr.Copies[n]) ||
			deref(r.TextCountDissimilar) != any(tr.Count[n]-tr.Copies[n]) {
			t.Errorf("%s: matched %v, matched_dissimilar %v, text_dissimilar %v; want %d, %d, %d", n,
				deref(r.MatchedCount), deref(r.MatchedCountDissimilar), deref(r.TextCountDissimilar), tr.Count[n], tr.Count[n]-tr.Copies[n], tr.Count[n]-tr.Copies[n])
		}
	}
	if nc := res.stats.NearDuplicateControl; nc == nil || nc.NearDuplicates != copies || nc.ImagesSearched != tr.Samples {
		t.Errorf("similarity_control %+v; want %d near-duplicates of %d searched", nc, copies, tr.Samples)
	}
}

// Similarity control refused where it cannot work, at launch, saying why.
// write2 writes the Parquet file fill makes as dir/name.
func write2(t *testing.T, dir, name string, fill func(*bytes.Buffer) error) string {
	t.Helper()
	var b bytes.Buffer
	if err := fill(&b); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNearConfigErrors(t *testing.T) {
	ctx := context.Background()
	v := colourVocab(t)
	dir := t.TempDir()
	write := func(name string, rows []tables.TestEmbedding) string {
		var b bytes.Buffer
		if err := tables.WriteTestEmbeddings(&b, rows, nil, nil); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.parquet", []tables.TestEmbedding{{Dataset: "d", Key: "k", Vector: []float32{1, 0, 0}}})
	wide := write("wide.parquet", []tables.TestEmbedding{{Dataset: "d", Key: "k", Vector: []float32{1, 0, 0, 0}}})
	mixed := write("mixed.parquet", []tables.TestEmbedding{{Dataset: "d", Key: "a", Vector: []float32{1, 0, 0}}, {Dataset: "d", Key: "b", Vector: []float32{1, 0}}})
	empty := write("empty.parquet", nil)
	emb := func(near string, threshold, floor float64) imagetag.Request {
		return imagetag.Request{Tagger: "embedding", Model: modelsDir + "/colour_embedder.onnx", ConceptEmbeddings: modelsDir + "/colour_concepts.parquet",
			Threshold: 0.7, BatchSize: 1, Device: "cpu", NearDuplicates: near, NearThreshold: threshold, NearFloor: floor}
	}
	multilabel := imagetag.Request{Tagger: "multilabel", Model: modelsDir + "/colour_tagger.onnx", Threshold: 0.7, BatchSize: 1, Device: "cpu",
		NearDuplicates: good, NearThreshold: 0.95, NearFloor: 0.9}
	// Test embeddings of another image encoder, and concept embeddings
	// paired with another one.
	otherModel := write2(t, dir, "other-model.parquet", func(w *bytes.Buffer) error {
		return tables.WriteTestEmbeddings(w, []tables.TestEmbedding{{Dataset: "d", Key: "k", Vector: []float32{1, 0, 0}}},
			tables.Provenance{tables.MetaImageModelSHA256: strings.Repeat("ab", 32)}, nil)
	})
	concepts, err := os.ReadFile(modelsDir + "/colour_concepts.parquet")
	if err != nil {
		t.Fatal(err)
	}
	names, vecs, err := tables.ReadConceptEmbeddings(concepts, "colour_concepts.parquet", nil)
	if err != nil {
		t.Fatal(err)
	}
	paired := write2(t, dir, "paired.parquet", func(w *bytes.Buffer) error {
		return tables.WriteConceptEmbeddings(w, names, vecs, tables.Provenance{tables.MetaPairedImageModelSHA256: strings.Repeat("cd", 32)}, nil)
	})
	pairedReq := emb(good, 0.95, 0.9)
	pairedReq.ConceptEmbeddings = paired
	for _, tc := range []struct {
		name string
		ic   imagetag.Request
		want string
	}{
		{"multilabel tagger", multilabel, "needs --tagger=embedding"},
		{"recount", imagetag.Request{ScoresDir: dir, Threshold: 0.7, BatchSize: 1, Device: "cpu", NearDuplicates: good}, "saved scores hold no image embeddings"},
		{"missing file", emb(filepath.Join(dir, "nope.parquet"), 0.95, 0.9), "nope.parquet"},
		{"not test embeddings", emb(modelsDir+"/colour_concepts.parquet", 0.95, 0.9), "colour_concepts.parquet"},
		{"empty", emb(empty, 0.95, 0.9), "holds no test embeddings"},
		{"dimensions vs model", emb(wide, 0.95, 0.9), "gives 3-dimensional image embeddings but the test embeddings have 4"},
		{"files disagree", emb(good+","+wide, 0.95, 0.9), "has 4 dimensions, the test embeddings before it 3"},
		{"mixed dimensions", emb(mixed, 0.95, 0.9), "d b has 2 dimensions"},
		{"threshold", emb(good, 1.5, 0.9), "--near_threshold=1.5"},
		{"floor above threshold", emb(good, 0.9, 0.95), "--near_floor=0.95"},
		{"another image encoder", emb(otherModel, 0.95, 0.9), "image encoder sha256 abababababab (--model"},
		{"concepts for another encoder", pairedReq, "were made for the image encoder with sha256 cdcdcdcdcdcd"},
	} {
		_, err := count.Request{Output: t.TempDir(), Image: tc.ic, Vocabulary: v}.Resolve(ctx, beamfs.ReadAll)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}
