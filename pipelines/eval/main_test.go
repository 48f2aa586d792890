package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/conceptfreq/conceptfreq/internal/flagtest"
	"github.com/conceptfreq/conceptfreq/internal/shareddata"
	"github.com/conceptfreq/conceptfreq/internal/synth"
	"github.com/conceptfreq/conceptfreq/io/paper"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/models/ort/orttest"
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
