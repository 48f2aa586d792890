package tagging_test

import (
	"math"
	"strings"
	"testing"

	"github.com/conceptfreq/conceptfreq/models/tagging"
)

var lower = strings.ToLower

func TestMultilabel(t *testing.T) {
	vocab := []string{"Red", "blue", "orange"}
	h, err := tagging.NewMultilabel(vocab, []string{"red", "green", "blue"}, false, lower)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, 3)
	if err := h.Scores([]float32{0.9, 0.1, 0.4}, dst); err != nil {
		t.Fatal(err)
	}
	if !near(dst[0], 0.9) || !near(dst[1], 0.4) || !math.IsNaN(dst[2]) {
		t.Errorf("got %v, want [0.9 0.4 NaN]", dst)
	}
	if u := h.Unknown(vocab); len(u) != 1 || u[0] != "orange" {
		t.Errorf("unknown: %v", u)
	}
	logits, _ := tagging.NewMultilabel(vocab, []string{"red", "green", "blue"}, true, lower)
	logits.Scores([]float32{0, 5, -5}, dst)
	if !near(dst[0], 0.5) || !near(dst[1], 1/(1+math.Exp(5))) {
		t.Errorf("logits: got %v", dst)
	}
	if err := h.Scores([]float32{1, 2}, dst); err == nil || !strings.Contains(err.Error(), "model output has 2 columns") {
		t.Errorf("wrong output width: got %v", err)
	}
	if _, err := tagging.NewMultilabel(vocab, nil, false, lower); err == nil || !strings.Contains(err.Error(), "has no labels") {
		t.Errorf("no labels: got %v", err)
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func TestEmbedding(t *testing.T) {
	vocab := []string{"red", "green", "cat"}
	h, err := tagging.NewEmbedding(vocab, []string{"green", "red"}, [][]float32{{0, 2, 0}, {3, 0, 0}}, lower)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, 3)
	h.Scores([]float32{1, 1, 0}, dst) // 45° between red and green
	if !near(dst[0], math.Sqrt(0.5)) || !near(dst[1], math.Sqrt(0.5)) || !math.IsNaN(dst[2]) {
		t.Errorf("cosine: got %v", dst)
	}
	h.Activation, h.Temperature = "softmax", 0.5
	h.Scores([]float32{1, 0, 0}, dst)
	// softmax over (1, 0)/0.5 for known concepts.
	want := math.Exp(2) / (math.Exp(2) + 1)
	if !near(dst[0], want) || !near(dst[0]+dst[1], 1) {
		t.Errorf("softmax: got %v, want red %v", dst, want)
	}
	h.Activation, h.Scale, h.Temperature = "sigmoid", 10, 1
	h.Scores([]float32{0, 1, 0}, dst)
	if !near(dst[1], 1/(1+math.Exp(-10))) {
		t.Errorf("scaled sigmoid: got %v", dst)
	}
	if _, err := tagging.NewEmbedding(vocab, []string{"red"}, [][]float32{{0, 0}}, lower); err == nil || !strings.Contains(err.Error(), `"red" is all zeros`) {
		t.Errorf("zero embedding: got %v", err)
	}
	if _, err := tagging.NewEmbedding(vocab, []string{"red", "blue"}, [][]float32{{1, 0}, {1}}, lower); err == nil || !strings.Contains(err.Error(), `"blue" has 1 dimensions, the first has 2`) {
		t.Errorf("ragged embeddings: got %v", err)
	}
}

func TestLabels(t *testing.T) {
	got, err := tagging.ReadLabels(strings.NewReader("# header\nred\n\n green \n"))
	if err != nil || len(got) != 2 || got[1] != "green" {
		t.Errorf("got %v %v", got, err)
	}
}

// Labels map to rows by exact spelling first, then by normalised key; two
// labels claiming one row are an error naming both and the row.
func TestLabelsMapExactlyFirst(t *testing.T) {
	key := func(s string) string {
		return strings.TrimSuffix(strings.ReplaceAll(strings.ToLower(s), "_", " "), "es")
	}
	vocab := []string{"sunglass", "sunglasses", "American coot", "American_Coot", "Tiger"}
	h, err := tagging.NewMultilabel(vocab, []string{"sunglasses", "american coot", "tiger"}, false, key)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float64, len(vocab))
	if err := h.Scores([]float32{0.1, 0.2, 0.3}, dst); err != nil {
		t.Fatal(err)
	}
	// "sunglasses" has a row of its own spelling: it maps only there. The
	// coot label stands for both coot rows (no exact spelling), tiger by key.
	if !math.IsNaN(dst[0]) || !near(dst[1], 0.1) || !near(dst[2], 0.2) || !near(dst[3], 0.2) || !near(dst[4], 0.3) {
		t.Errorf("got %v, want [NaN 0.1 0.2 0.2 0.3]", dst)
	}
	_, err = tagging.NewMultilabel([]string{"American coot"}, []string{"american coot", "AMERICAN_COOT"}, false, key)
	if err == nil || !strings.Contains(err.Error(), `labels "american coot" and "AMERICAN_COOT" both stand for the vocabulary concept "American coot"`) {
		t.Errorf("two labels for one row: got %v", err)
	}
	if _, err := tagging.NewMultilabel([]string{"a"}, []string{"a", "a"}, false, key); err == nil || !strings.Contains(err.Error(), `label "a" is given twice`) {
		t.Errorf("a label twice: got %v", err)
	}
	if _, err := tagging.NewEmbedding([]string{"red"}, []string{"Red", "RED"}, [][]float32{{1, 0}, {0, 1}}, strings.ToLower); err == nil ||
		!strings.Contains(err.Error(), `embedded concepts "Red" and "RED" both stand for the vocabulary concept "red"`) {
		t.Errorf("two embedded concepts for one row: got %v", err)
	}
}
