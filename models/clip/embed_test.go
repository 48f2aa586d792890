package clip_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/conceptfreq/conceptfreq/models/clip"
	"github.com/conceptfreq/conceptfreq/models/onnxbuild"
	"github.com/conceptfreq/conceptfreq/models/ort"
	"github.com/conceptfreq/conceptfreq/models/ort/orttest"
)

func TestPromptSets(t *testing.T) {
	seen := map[string]bool{}
	for _, tpl := range clip.ImageNetTemplates {
		if strings.Count(tpl, "{}") != 1 || seen[tpl] {
			t.Errorf("template %q: want one {} and no duplicate", tpl)
		}
		seen[tpl] = true
	}
	if len(seen) != 80 {
		t.Errorf("%d distinct ImageNet templates, want the CLIP paper's 80", len(seen))
	}
	for set, want := range map[string]int{clip.PromptClass: 1, clip.PromptSimple: 1, clip.PromptEnsemble: 80} {
		tpls, err := clip.Templates(set)
		if err != nil || len(tpls) != want {
			t.Errorf("%s: %d templates, %v; want %d", set, len(tpls), err, want)
		}
	}
	if _, err := clip.Templates("fancy"); err == nil || !strings.Contains(err.Error(), `unknown prompt set "fancy"`) {
		t.Errorf("unknown set: got %v", err)
	}
	if got := clip.Fill("a photo of a {}.", "American_Coot"); got != "a photo of a American Coot." {
		t.Errorf("Fill: got %q", got)
	}
}

// randomTable is a seeded token-embedding table for the test text encoder.
func randomTable(d int) [][]float32 {
	rng := rand.New(rand.NewPCG(3, 5))
	table := make([][]float32, clip.VocabSize)
	for i := range table {
		table[i] = make([]float32, d)
		for j := range table[i] {
			table[i][j] = float32(rng.NormFloat64())
		}
	}
	return table
}

// reference computes the ensemble embedding in float64 from the same table:
// per text, the mean of the context's token rows (padding included, as the
// model's ReduceMean does), normalised; then the mean over templates,
// normalised.
func reference(tk *clip.Tokenizer, table [][]float32, name string, templates []string) []float64 {
	d := len(table[0])
	sum := make([]float64, d)
	ids := make([]int64, clip.ContextLength)
	for _, tpl := range templates {
		tk.Context(clip.Fill(tpl, name), ids)
		e := make([]float64, d)
		for _, id := range ids {
			for j := range e {
				e[j] += float64(table[id][j]) / float64(len(ids))
			}
		}
		n := 0.0
		for _, v := range e {
			n += v * v
		}
		for j := range e {
			sum[j] += e[j] / math.Sqrt(n)
		}
	}
	n := 0.0
	for _, v := range sum {
		n += v * v
	}
	for j := range sum {
		sum[j] /= math.Sqrt(n)
	}
	return sum
}

// The prompt ensemble through the real ONNX Runtime (a token-embedding
// lookup averaged) against a float64 reference.
func TestEmbedderAgainstReference(t *testing.T) {
	lib := orttest.Lib(t)
	tk := tokenizer(t)
	table := randomTable(4)
	model := onnxbuild.TokenMean("text", "embedding", table, nil).Marshal()
	s, err := ort.OpenData("text.onnx", model, ort.Options{LibPath: lib})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	names := []string{"red", "traffic light", "American_Coot", strings.Repeat("very long name ", 30)}
	for _, set := range clip.PromptSets {
		tpls, _ := clip.Templates(set)
		e := &clip.Embedder{Tokenizer: tk, Encoder: s, BatchSize: 7}
		got, err := e.Embed(names, tpls)
		if err != nil {
			t.Fatal(err)
		}
		if e.Truncated != len(tpls) {
			t.Errorf("%s: %d texts truncated, want %d (the long name's)", set, e.Truncated, len(tpls))
		}
		for i, n := range names {
			want := reference(tk, table, n, tpls)
			for j := range want {
				if math.Abs(float64(got[i][j])-want[j]) > 2e-5 {
					t.Errorf("%s: %q dim %d: got %v, reference %v", set, n, j, got[i][j], want[j])
				}
			}
		}
	}
}

type zeroEncoder struct{}

func (zeroEncoder) RunTokens(ids []int64, n, context int) ([]float32, int, error) {
	return make([]float32, n*2), 2, nil
}

func TestEmbedderRejectsZeroEmbeddings(t *testing.T) {
	e := &clip.Embedder{Tokenizer: tokenizer(t), Encoder: zeroEncoder{}}
	if _, err := e.Embed([]string{"dog"}, []string{"{}"}); err == nil || !strings.Contains(err.Error(), "norm 0") {
		t.Errorf("got %v, want an error about a zero-norm embedding", err)
	}
}
