// Package tagging turns an image model's raw output into per-concept scores
// in vocabulary order: a multi-label tagger (RAM++-style probabilities or
// logits per concept) or an embedding model (CLIP-style image embeddings
// scored by cosine similarity against precomputed concept embeddings).
// It is plain Go; the model runs in models/ort.
package tagging

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/conceptfreq/conceptfreq/models/ort"
	"github.com/conceptfreq/conceptfreq/models/preprocess"
)

// Kinds of tagger.
const (
	Multilabel = "multilabel"
	Embedding  = "embedding"
	None       = "none"
)

// Head maps one model output row to scores for the vocabulary's concepts.
// Concepts the model does not know have Known[i] == false and never score.
type Head struct {
	Kind  string
	Known []bool
	// multilabel: vocabulary index → output column (-1 unknown)
	col    []int
	logits bool
	// embedding: vocabulary index → unit concept embedding (nil unknown)
	emb         [][]float32
	Scale       float64 // embedding: score = Scale·cos before Activation (default 1)
	Activation  string  // embedding: "none", "sigmoid" or "softmax"
	Temperature float64 // softmax temperature (default 1)
	// OutputDim is the model output's width this head expects.
	OutputDim int
}

// Normalizer maps a concept or label name to its matching form (the same
// lemma normalisation as captions).
type Normalizer func(string) string

// NewMultilabel maps the model's output labels (one per output column) to
// the vocabulary: by exact spelling, else by normalised name (see assign).
// logits applies a sigmoid to the outputs.
func NewMultilabel(vocab []string, labels []string, logits bool, norm Normalizer) (*Head, error) {
	if len(labels) == 0 {
		return nil, fmt.Errorf("tagging: the multilabel model has no labels (give a labels file or the model metadata key %q)", MetaLabels)
	}
	cols, err := assign(vocab, labels, norm, "label")
	if err != nil {
		return nil, err
	}
	h := &Head{Kind: Multilabel, Known: make([]bool, len(vocab)), col: cols, logits: logits, OutputDim: len(labels)}
	for i, j := range cols {
		h.Known[i] = j >= 0
	}
	return h, nil
}

// assign maps each vocabulary row to the model name (label or embedded
// concept) that stands for it: the name spelled exactly like the row,
// else the name whose normalised key is the row's (names that have a row of
// their own spelling map only to it). Two names claiming one row are an
// error naming both and the row. Rows no name claims get -1.
func assign(vocab, names []string, norm Normalizer, what string) ([]int, error) {
	exact := map[string]int{}
	byKey := map[string][]int{}
	for i, n := range names {
		if j, dup := exact[n]; dup {
			return nil, fmt.Errorf("tagging: %s %q is given twice (columns %d and %d)", what, n, j, i)
		}
		exact[n] = i
	}
	rows := map[string]bool{}
	for _, v := range vocab {
		rows[v] = true
	}
	for i, n := range names {
		if !rows[n] { // a name with a row of its own spelling maps only there
			byKey[norm(n)] = append(byKey[norm(n)], i)
		}
	}
	out := make([]int, len(vocab))
	for r, v := range vocab {
		out[r] = -1
		if j, ok := exact[v]; ok {
			out[r] = j
			continue
		}
		switch c := byKey[norm(v)]; len(c) {
		case 0:
		case 1:
			out[r] = c[0]
		default:
			return nil, fmt.Errorf("tagging: %ss %q and %q both stand for the vocabulary concept %q (same normalised form %q); keep one",
				what, names[c[0]], names[c[1]], v, norm(v))
		}
	}
	return out, nil
}

// NewEmbedding scores image embeddings against concept embeddings by cosine
// similarity; embedded concepts map to vocabulary rows by exact spelling,
// else by normalised name (see assign).
func NewEmbedding(vocab []string, concepts []string, embeddings [][]float32, norm Normalizer) (*Head, error) {
	if len(concepts) == 0 || len(concepts) != len(embeddings) {
		return nil, fmt.Errorf("tagging: %d concept names for %d embeddings", len(concepts), len(embeddings))
	}
	d := len(embeddings[0])
	units := make([][]float32, len(concepts))
	for i, c := range concepts {
		if len(embeddings[i]) != d {
			return nil, fmt.Errorf("tagging: embedding of %q has %d dimensions, the first has %d", c, len(embeddings[i]), d)
		}
		u, ok := unit(embeddings[i])
		if !ok {
			return nil, fmt.Errorf("tagging: embedding of %q is all zeros", c)
		}
		units[i] = u
	}
	rows, err := assign(vocab, concepts, norm, "embedded concept")
	if err != nil {
		return nil, err
	}
	h := &Head{Kind: Embedding, Known: make([]bool, len(vocab)), emb: make([][]float32, len(vocab)), Scale: 1, Activation: "none", Temperature: 1, OutputDim: d}
	for i, j := range rows {
		if j >= 0 {
			h.emb[i], h.Known[i] = units[j], true
		}
	}
	return h, nil
}

func unit(v []float32) ([]float32, bool) {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 {
		return nil, false
	}
	n := math.Sqrt(ss)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) / n)
	}
	return out, true
}

// Unknown lists the vocabulary concepts the model does not know.
func (h *Head) Unknown(vocab []string) []string {
	var out []string
	for i, k := range h.Known {
		if !k {
			out = append(out, vocab[i])
		}
	}
	return out
}

// Scores writes the score of every vocabulary concept for one output row
// into dst (NaN for unknown concepts).
func (h *Head) Scores(row []float32, dst []float64) error {
	if len(row) != h.OutputDim {
		return fmt.Errorf("tagging: model output has %d columns, the %s head expects %d", len(row), h.Kind, h.OutputDim)
	}
	switch h.Kind {
	case Multilabel:
		for i, c := range h.col {
			if c < 0 {
				dst[i] = math.NaN()
				continue
			}
			v := float64(row[c])
			if h.logits {
				v = 1 / (1 + math.Exp(-v))
			}
			dst[i] = v
		}
	case Embedding:
		u, ok := unit(row)
		for i, e := range h.emb {
			if e == nil {
				dst[i] = math.NaN()
				continue
			}
			if !ok {
				dst[i] = 0
				continue
			}
			var dot float64
			for k := range e {
				dot += float64(e[k]) * float64(u[k])
			}
			dst[i] = h.Scale * dot
		}
		switch h.Activation {
		case "sigmoid":
			for i, v := range dst {
				if !math.IsNaN(v) {
					dst[i] = 1 / (1 + math.Exp(-v/h.temp()))
				}
			}
		case "softmax":
			mx := math.Inf(-1)
			for _, v := range dst {
				if !math.IsNaN(v) {
					mx = math.Max(mx, v/h.temp())
				}
			}
			sum := 0.0
			for i, v := range dst {
				if !math.IsNaN(v) {
					dst[i] = math.Exp(v/h.temp() - mx)
					sum += dst[i]
				}
			}
			for i, v := range dst {
				if !math.IsNaN(v) {
					dst[i] = v / sum
				}
			}
		}
	default:
		return fmt.Errorf("tagging: unknown head kind %q", h.Kind)
	}
	return nil
}

func (h *Head) temp() float64 {
	if h.Temperature <= 0 {
		return 1
	}
	return h.Temperature
}

// Model metadata keys conceptfreq reads (all optional).
const (
	MetaLabels    = "conceptfreq.labels"     // newline-separated output labels
	MetaInputSize = "conceptfreq.input_size" // e.g. "384"
	MetaMean      = "conceptfreq.mean"       // "0.485,0.456,0.406"
	MetaStd       = "conceptfreq.std"
	MetaResize    = "conceptfreq.resize" // squash or crop
	MetaOutput    = "conceptfreq.output" // probabilities or logits
)

// MetadataOverrides are the preprocessing hints of a model's metadata.
func MetadataOverrides(md map[string]string) preprocess.Overrides {
	return preprocess.Overrides{Size: md[MetaInputSize], Resize: md[MetaResize], Mean: md[MetaMean], Std: md[MetaStd]}
}

// ImageOptions is the input of an image model of kind (preprocess.KindTagger
// or KindEncoder): preprocess.Defaults(kind), then what the model's
// metadata says, then the user's flags. Every command resolves its model's
// input here, so two commands given one model and the same flags feed it
// the same tensors.
func ImageOptions(model []byte, kind string, f preprocess.Flags) (preprocess.Options, error) {
	md, err := ort.ReadMetadata(model)
	if err != nil {
		return preprocess.Options{}, err
	}
	return f.Options(kind, MetadataOverrides(md))
}

// ReadLabels reads a labels file: one label per line in output-column order
// (blank lines and "#" comments skipped).
func ReadLabels(r io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, l)
	}
	return out, sc.Err()
}

// SplitLabels splits the newline-separated MetaLabels value.
func SplitLabels(s string) []string {
	labels, _ := ReadLabels(strings.NewReader(s))
	return labels
}
