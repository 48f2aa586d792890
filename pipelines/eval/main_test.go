package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/conceptfreq/conceptfreq/internal/flagtest"
	"github.com/conceptfreq/conceptfreq/internal/shareddata"
	"github.com/conceptfreq/conceptfreq/internal/synth"
	"github.com/conceptfreq/conceptfreq/io/paper"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/models/onnxbuild"
	"github.com/conceptfreq/conceptfreq/models/ort/orttest"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
	"github.com/conceptfreq/conceptfreq/transforms/scalinglaw"
	"github.com/conceptfreq/conceptfreq/transforms/scalinglaw/fitstats"
	"github.com/conceptfreq/conceptfreq/transforms/zeroshot"
)

func TestMain(m *testing.M) { ptest.Main(m) }

const models = "../../testdata/models"

// The planted colour set through the planted colour "CLIP" on prism: the
// per-class top-1 accuracies are known by construction (label noise
// included), for every prompt set; top-5 is 100% with 4 classes; unusable
// samples are rejects with exact reasons; and the performance table joins
// with counts in the fit.
func TestPlantedColourEvaluation(t *testing.T) {
	orttest.Lib(t)
	bpePath := shareddata.Path(t, "clip/bpe_simple_vocab_16e6.txt.gz")
	data := t.TempDir()
	tr, err := synth.ColourEval(data)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	flagtest.Set(t, "--input="+data, "--classes="+filepath.Join(data, "classes.txt"),
		"--image_model="+models+"/colour_embedder.onnx", "--text_model="+models+"/colour_text.onnx", "--bpe="+bpePath,
		"--model=colourCLIP", "--pretraining=colourcrawl", "--dataset=colours", "--output="+out, "--overwrite", "--batch_size=4")
	if err := run(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rows, err := paper.ReadPerformance(ctx, filepath.Join(out, zeroshot.PerformanceFile))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, r := range rows {
		if r.Model != "colourCLIP" || r.Pretraining != "colourcrawl" || r.Dataset != "colours" {
			t.Errorf("row %+v: wrong model/pretraining/dataset", r)
		}
		got[r.Prompt+"/"+r.Concept] = r.Metric
	}
	for _, p := range []string{"class", "simple", "ensemble"} {
		for _, c := range []string{"red", "green", "blue"} {
			want := 100 * float64(tr.Correct[c]) / float64(tr.Images[c])
			if g, ok := got[p+"/"+c]; !ok || math.Abs(g-want) > 1e-9 {
				t.Errorf("%s/%s: accuracy %v (present %v), want %v", p, c, g, ok, want)
			}
		}
		if _, ok := got[p+"/purple"]; ok {
			t.Errorf("%s/purple: a row for a class without images", p)
		}
	}
	if len(got) != 9 {
		t.Errorf("%d performance rows, want 3 prompts × 3 classes with images", len(got))
	}
	es, err := zeroshot.ReadStats(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if es.Status != zeroshot.StatusComplete || es.Run.Version == "" || len(es.Run.ImageModelSHA256) != 64 || len(es.Run.TextModelSHA256) != 64 ||
		!strings.Contains(es.Run.ImageSpec, `"resize":"crop"`) {
		t.Errorf("eval_stats.json: status %q, version %q, run %+v; want complete, the version, both models' sha256 and the spec (crop)", es.Status, es.Run.Version, es.Run)
	}
	perf, err := os.ReadFile(filepath.Join(out, zeroshot.PerformanceFile))
	if err != nil {
		t.Fatal(err)
	}
	if prov, err := tables.ReadProvenance(perf, zeroshot.PerformanceFile); err != nil || prov[tables.MetaImageModelSHA256] != es.Run.ImageModelSHA256 || prov[tables.MetaImageSpec] != es.Run.ImageSpec {
		t.Errorf("performance.parquet provenance %v (%v); want the image model's sha256 and spec of eval_stats.json", prov, err)
	}
	var labelled, correct int64
	for c, n := range tr.Images {
		labelled += n
		correct += tr.Correct[c]
	}
	if es.SamplesRead != tr.Samples || es.Evaluated != labelled {
		t.Errorf("read %d, evaluated %d; want %d, %d", es.SamplesRead, es.Evaluated, tr.Samples, labelled)
	}
	for reason, n := range tr.Rejects {
		if es.Rejects[reason] != n {
			t.Errorf("rejects %s: %d, want %d (all: %v)", reason, es.Rejects[reason], n, es.Rejects)
		}
	}
	if len(es.Accuracy) != 3 {
		t.Fatalf("accuracy for %d prompt sets, want 3", len(es.Accuracy))
	}
	for _, a := range es.Accuracy {
		if want := 100 * float64(correct) / float64(labelled); math.Abs(a.Top1-want) > 1e-9 || a.TopK != 100 || a.Samples != labelled {
			t.Errorf("%s: top-1 %v top-5 %v over %d, want %v, 100 over %d", a.Prompt, a.Top1, a.TopK, a.Samples, want, labelled)
		}
	}
	if len(es.ClassesNoData) != 1 || es.ClassesNoData[0] != "purple" {
		t.Errorf("classes without images: %v, want [purple]", es.ClassesNoData)
	}
	rb, err := os.ReadFile(filepath.Join(out, zeroshot.RejectsFile))
	if err != nil {
		t.Fatal(err)
	}
	rejects, err := tables.ReadRejects(bytes.NewReader(rb), nil)
	if err != nil || len(rejects) != 5 {
		t.Fatalf("rejects.parquet: %d rows, %v; want 5", len(rejects), err)
	}

	// The performance table feeds the fit, joined with counts of the same
	// pretraining name.
	counts := filepath.Join(t.TempDir(), "concept_counts.parquet")
	var cb bytes.Buffer
	ptr := func(v int64) *int64 { return &v }
	if err := tables.WriteConceptCounts(&cb, []tables.ConceptCount{
		{Concept: "red", TextCount: 5000, MatchedCount: ptr(4000)}, {Concept: "green", TextCount: 50, MatchedCount: ptr(40)},
		{Concept: "blue", TextCount: 500, MatchedCount: ptr(300)}, {Concept: "purple", TextCount: 1, MatchedCount: ptr(0)},
	}, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(counts, cb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := scalinglaw.Config{CountsPath: counts, CountKind: paper.Matched,
		PerformancePath: filepath.Join(out, zeroshot.PerformanceFile), NBins: 12, Zeros: fitstats.ZerosExclude, TailK: 2}
	if cfg.DefaultSlice, err = fitstats.ParseSlice("1:-1"); err != nil {
		t.Fatal(err)
	}
	res, err := scalinglaw.LoadAndFit(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Unmatched) != 0 {
		t.Errorf("unmatched performance rows: %+v", res.Unmatched)
	}
	fits := 0
	for _, f := range res.Fits {
		if f.Mode == scalinglaw.ModePerConcept && f.Concepts == 3 {
			fits++
		}
	}
	if fits != 3 {
		t.Errorf("%d per-concept fits over the 3 classes, want one per prompt set", fits)
	}
}

func TestFlagChecks(t *testing.T) {
	flagtest.Set(t, "--input=x", "--classes=")
	err := run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "missing --classes, --image_model, --text_model, --bpe, --model, --pretraining, --dataset") {
		t.Errorf("got %v, want the missing flags named", err)
	}
	dir := t.TempDir()
	classes := filepath.Join(dir, "classes.txt")
	os.WriteFile(classes, []byte("red\nRed\n"), 0o644)
	if _, err := readClasses(context.Background(), classes); err == nil || !strings.Contains(err.Error(), "line 2 repeats line 1") {
		t.Errorf("duplicate class: got %v", err)
	}
}

// webdataset's own sample.tgz (90 MNIST digits: grayscale .png + .cls)
// reads and evaluates whole: every sample gets a prediction, the per-class
// counts add up, and no sample is lost.
func TestRealLabelledShard(t *testing.T) {
	orttest.Lib(t)
	bpePath := shareddata.Path(t, "clip/bpe_simple_vocab_16e6.txt.gz")
	dir := t.TempDir()
	classes := filepath.Join(dir, "digits.txt")
	if err := os.WriteFile(classes, []byte("zero\none\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	flagtest.Set(t, "--input=../../testdata/webdataset/sample.tgz", "--classes="+classes,
		"--image_model="+models+"/colour_embedder.onnx", "--text_model="+models+"/colour_text.onnx", "--bpe="+bpePath,
		"--model=m", "--pretraining=p", "--dataset=mnist-sample", "--output="+out, "--prompts=simple")
	if err := run(context.Background()); err != nil {
		t.Fatal(err)
	}
	es, err := zeroshot.ReadStats(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	if es.SamplesRead != 90 || es.Evaluated != 90 || len(es.Rejects) != 0 || es.ShardsRead != 1 {
		t.Errorf("read %d, evaluated %d, rejects %v, shards %d; want 90, 90, none, 1", es.SamplesRead, es.Evaluated, es.Rejects, es.ShardsRead)
	}
	if len(es.Accuracy) != 1 || es.Accuracy[0].Samples != 90 || es.Accuracy[0].TopK < es.Accuracy[0].Top1 {
		t.Errorf("accuracy %+v: want 90 samples, top-5 ≥ top-1", es.Accuracy)
	}
	rows, err := paper.ReadPerformance(context.Background(), filepath.Join(out, zeroshot.PerformanceFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows)+len(es.ClassesNoData) != 10 {
		t.Errorf("%d rows + %d classes without images, want 10 classes", len(rows), len(es.ClassesNoData))
	}
	for _, r := range rows {
		if r.Metric < 0 || r.Metric > 100 || r.Prompt != "simple" || r.Dataset != "mnist-sample" {
			t.Errorf("row %+v", r)
		}
	}
}

// The crawl-to-law set (make crawl-to-law): every class's accuracy is the
// planted one through the planted CLIP, and fitted against the planted
// counts it gives a real binned fit — at least 5 bins, a finite ρ near 1
// and the planted 20 points per decade (±2: accuracies are whole images).
func TestColourLawFits(t *testing.T) {
	orttest.Lib(t)
	data := t.TempDir()
	tr, err := synth.ColourLaw(data)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	flagtest.Set(t, "--input="+filepath.Join(data, "eval"), "--classes="+filepath.Join(data, "classes.txt"),
		"--image_model="+models+"/colour_embedder.onnx", "--text_model="+models+"/colour_text.onnx",
		"--bpe=../../testdata/clip/bpe_simple_vocab_16e6.txt.gz", "--prompts=class",
		"--model=colourCLIP", "--pretraining=colourcrawl", "--dataset=colours", "--output="+out, "--overwrite")
	if err := run(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rows, err := paper.ReadPerformance(ctx, filepath.Join(out, zeroshot.PerformanceFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(tr.Classes) {
		t.Fatalf("%d performance rows, want one per class (%d)", len(rows), len(tr.Classes))
	}
	for _, r := range rows {
		if math.Abs(r.Metric-tr.Accuracy[r.Concept]) > 1e-9 {
			t.Errorf("%s: accuracy %v, want the planted %v", r.Concept, r.Metric, tr.Accuracy[r.Concept])
		}
	}
	var counts []tables.ConceptCount
	for _, c := range tr.Classes {
		v := tr.Count[c]
		counts = append(counts, tables.ConceptCount{Concept: c, TextCount: v, MatchedCount: &v, ImageCount: &v})
	}
	var cb bytes.Buffer
	if err := tables.WriteConceptCounts(&cb, counts, nil); err != nil {
		t.Fatal(err)
	}
	cpath := filepath.Join(t.TempDir(), "concept_counts.parquet")
	if err := os.WriteFile(cpath, cb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := scalinglaw.Config{CountsPath: cpath, PerformancePath: filepath.Join(out, zeroshot.PerformanceFile),
		NBins: 12, Zeros: fitstats.ZerosExclude, TailK: 2}
	if cfg.DefaultSlice, err = fitstats.ParseSlice("1:-1"); err != nil {
		t.Fatal(err)
	}
	res, err := scalinglaw.LoadAndFit(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.CountsKind != paper.Matched {
		t.Errorf("fitted %s counts, want matched (the file has image-side counts)", res.CountsKind)
	}
	for _, f := range res.Fits {
		if f.Mode != scalinglaw.ModePaperBins {
			continue
		}
		if f.Err != "" || f.N < 5 || math.IsNaN(f.Rho) || f.Rho < 0.95 || math.Abs(f.SlopePerDecade-20) > 2 {
			t.Errorf("binned fit: %d bins, ρ %v, slope %v per decade, error %q; want ≥ 5 bins, ρ ≥ 0.95, slope 20 ± 2", f.N, f.Rho, f.SlopePerDecade, f.Err)
		}
	}
}

// The planted retrieval set through the planted colour "CLIP" on prism:
// each query's rank follows from the colour geometry (checked here to
// hold by a wide margin), so every concept's recall@k both ways is known;
// the concepts are the captions' nouns; the sample without captions is a
// no_caption reject.
func TestPlantedRetrievalEvaluation(t *testing.T) {
	orttest.Lib(t)
	bpePath := shareddata.Path(t, "clip/bpe_simple_vocab_16e6.txt.gz")
	data := t.TempDir()
	if err := synth.ColourRetrieval(data); err != nil {
		t.Fatal(err)
	}
	// The expected ranks, from the planted geometry: an image embeds as
	// ColourVector of its colour, a caption as that of its colour word.
	vec := func(rgb [3]uint8) [3]float64 {
		v := onnxbuild.ColourVector(rgb)
		n := math.Sqrt(float64(v[0]*v[0] + v[1]*v[1] + v[2]*v[2]))
		return [3]float64{float64(v[0]) / n, float64(v[1]) / n, float64(v[2]) / n}
	}
	cos := func(a, b [3]float64) float64 { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }
	var imgs, caps [][3]float64
	var owner []int
	var texts []string
	for i, s := range synth.RetrievalPlan {
		imgs = append(imgs, vec(s.RGB))
		for _, c := range s.Captions {
			word := strings.Fields(c)[1]
			caps, owner, texts = append(caps, vec(onnxbuild.PlantedColours[word])), append(owner, i), append(texts, c)
		}
	}
	const margin = 0.1
	rankOf := func(sims []float64, own int) int { // strictly ahead; no near tie allowed
		n := 0
		for k, s := range sims {
			if k == own {
				continue
			}
			if math.Abs(s-sims[own]) < margin {
				t.Fatalf("planted set: a near tie (%v vs %v) decides a rank", s, sims[own])
			}
			if s > sims[own] {
				n++
			}
		}
		return n
	}
	t2i := make([]int, len(caps))
	for c, q := range caps {
		sims := make([]float64, len(imgs))
		for i, im := range imgs {
			sims[i] = cos(q, im)
		}
		t2i[c] = rankOf(sims, owner[c])
	}
	i2t := make([]int, len(imgs))
	for i, im := range imgs {
		best := math.MaxInt
		for c := range caps {
			if owner[c] != i {
				continue
			}
			// Other captions of the same image may tie with c: only
			// foreign captions count against it.
			n := 0
			for c2, q2 := range caps {
				if owner[c2] == i {
					continue
				}
				if d := cos(q2, im) - cos(caps[c], im); math.Abs(d) < margin {
					t.Fatalf("planted set: caption %q ties with %q for image %d", texts[c2], texts[c], i)
				} else if d > 0 {
					n++
				}
			}
			best = min(best, n)
		}
		i2t[i] = best
	}
	if want := []int{0, 0, 0, 0, 0, 6, 0, 0, 6}; !slices.Equal(t2i, want) {
		t.Fatalf("planted t2i ranks %v, the plan says %v", t2i, want)
	}
	if want := []int{0, 0, 0, 0, 0, 0, 6}; !slices.Equal(i2t, want) {
		t.Fatalf("planted i2t ranks %v, the plan says %v", i2t, want)
	}
	// Expected recall per concept (the captions' nouns) and metric.
	lem, _ := caption.English()
	nouns, err := caption.NewNouns(lem)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{}
	nT, hitT, nI, hitI := map[string]int{}, map[string]map[int]int{}, map[string]int{}, map[string]map[int]int{}
	imageNouns := make([]map[string]bool, len(imgs))
	for c, text := range texts {
		for _, w := range nouns.Keys(text) {
			nT[w]++
			if hitT[w] == nil {
				hitT[w] = map[int]int{}
			}
			for _, k := range []int{1, 5, 10} {
				if t2i[c] < k {
					hitT[w][k]++
				}
			}
			if imageNouns[owner[c]] == nil {
				imageNouns[owner[c]] = map[string]bool{}
			}
			imageNouns[owner[c]][w] = true
		}
	}
	for i, ws := range imageNouns {
		for w := range ws {
			nI[w]++
			if hitI[w] == nil {
				hitI[w] = map[int]int{}
			}
			for _, k := range []int{1, 5, 10} {
				if i2t[i] < k {
					hitI[w][k]++
				}
			}
		}
	}
	for w := range nT {
		if nI[w] < 2 { // --min_images=2
			continue
		}
		for _, k := range []int{1, 5, 10} {
			want[fmt.Sprintf("%s t2i_recall@%d", w, k)] = float64(hitT[w][k]) / float64(nT[w])
			want[fmt.Sprintf("%s i2t_recall@%d", w, k)] = float64(hitI[w][k]) / float64(nI[w])
		}
	}
	for _, k := range []string{"kite t2i_recall@1", "cup t2i_recall@5", "kite i2t_recall@1"} {
		if _, ok := want[k]; !ok {
			t.Fatalf("the planted nouns give no %s: %v", k, want)
		}
	}

	out := t.TempDir()
	flagtest.Set(t, "--task=retrieval", "--input="+data, "--min_images=2",
		"--image_model="+models+"/colour_embedder.onnx", "--text_model="+models+"/colour_text.onnx", "--bpe="+bpePath,
		"--model=colourCLIP", "--pretraining=colourcrawl", "--dataset=colourcaps", "--output="+out, "--overwrite", "--batch_size=3")
	if err := run(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rows, err := paper.ReadPerformance(ctx, filepath.Join(out, zeroshot.PerformanceFile))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, r := range rows {
		if r.Model != "colourCLIP" || r.Pretraining != "colourcrawl" || r.Dataset != "colourcaps" {
			t.Errorf("row %+v: wrong model/pretraining/dataset", r)
		}
		if r.Task != scalinglaw.TaskRetrieval {
			t.Errorf("row %+v: task %q, want retrieval", r, r.Task)
		}
		got[r.Concept+" "+r.Prompt] = r.Metric
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || math.Abs(g-w) > 1e-9 {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d rows, want %d: %v", len(got), len(want), got)
	}
	rs, err := zeroshot.ReadRetrievalStats(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if rs.Images != 7 || rs.Captions != 9 || rs.SamplesRead != 8 || rs.Rejects[zeroshot.RejectNoCaptions] != 1 ||
		math.Abs(rs.Recall["t2i_recall@1"]-7.0/9) > 1e-12 || math.Abs(rs.Recall["i2t_recall@1"]-6.0/7) > 1e-12 || rs.Recall["t2i_recall@10"] != 1 {
		t.Errorf("eval_stats.json: %+v", rs)
	}
}
