package clip

import (
	"fmt"
	"math"
	"strings"
)

// Prompt sets, named as in the study's zero_shot_evaluations files.
const (
	PromptClass    = "class"    // the class name alone
	PromptSimple   = "simple"   // "a photo of a {}."
	PromptEnsemble = "ensemble" // the 80 ImageNet templates of the CLIP paper, averaged
)

// PromptSets lists the prompt sets in the study's order.
var PromptSets = []string{PromptClass, PromptSimple, PromptEnsemble}

// ImageNetTemplates are the 80 prompt templates of CLIP's ImageNet
// zero-shot classifier (Radford et al. 2021, "Prompt_Engineering_for_ImageNet").
var ImageNetTemplates = []string{
	"a bad photo of a {}.", "a photo of many {}.", "a sculpture of a {}.", "a photo of the hard to see {}.",
	"a low resolution photo of the {}.", "a rendering of a {}.", "graffiti of a {}.", "a bad photo of the {}.",
	"a cropped photo of the {}.", "a tattoo of a {}.", "the embroidered {}.", "a photo of a hard to see {}.",
	"a bright photo of a {}.", "a photo of a clean {}.", "a photo of a dirty {}.", "a dark photo of the {}.",
	"a drawing of a {}.", "a photo of my {}.", "the plastic {}.", "a photo of the cool {}.",
	"a close-up photo of a {}.", "a black and white photo of the {}.", "a painting of the {}.", "a painting of a {}.",
	"a pixelated photo of the {}.", "a sculpture of the {}.", "a bright photo of the {}.", "a cropped photo of a {}.",
	"a plastic {}.", "a photo of the dirty {}.", "a jpeg corrupted photo of a {}.", "a blurry photo of the {}.",
	"a photo of the {}.", "a good photo of the {}.", "a rendering of the {}.", "a {} in a video game.",
	"a photo of one {}.", "a doodle of a {}.", "a close-up photo of the {}.", "a photo of a {}.",
	"the origami {}.", "the {} in a video game.", "a sketch of a {}.", "a doodle of the {}.",
	"a origami {}.", "a low resolution photo of a {}.", "the toy {}.", "a rendition of the {}.",
	"a photo of the clean {}.", "a photo of a large {}.", "a rendition of a {}.", "a photo of a nice {}.",
	"a photo of a weird {}.", "a blurry photo of a {}.", "a cartoon {}.", "art of a {}.",
	"a sketch of the {}.", "a embroidered {}.", "a pixelated photo of a {}.", "itap of the {}.",
	"a jpeg corrupted photo of the {}.", "a good photo of a {}.", "a plushie {}.", "a photo of the nice {}.",
	"a photo of the small {}.", "a photo of the weird {}.", "the cartoon {}.", "art of the {}.",
	"a drawing of the {}.", "a photo of the large {}.", "a black and white photo of a {}.", "the plushie {}.",
	"a dark photo of a {}.", "itap of a {}.", "graffiti of the {}.", "a toy {}.",
	"itap of my {}.", "a photo of a cool {}.", "a photo of a small {}.", "a tattoo of the {}.",
}

// Templates returns the templates of a prompt set.
func Templates(set string) ([]string, error) {
	switch set {
	case PromptClass:
		return []string{"{}"}, nil
	case PromptSimple:
		return []string{"a photo of a {}."}, nil
	case PromptEnsemble:
		return ImageNetTemplates, nil
	}
	return nil, fmt.Errorf("clip: unknown prompt set %q (want %s)", set, strings.Join(PromptSets, ", "))
}

// Fill puts a class name into a template. Underscores in the name (cub's
// "American_Coot") become spaces.
func Fill(template, name string) string {
	return strings.ReplaceAll(template, "{}", strings.ReplaceAll(name, "_", " "))
}

// TextEncoder embeds n texts of context tokens each (ids, row-major
// [n, context]) into n rows of dim floats.
type TextEncoder interface {
	RunTokens(ids []int64, n, context int) (out []float32, dim int, err error)
}

// Embedder builds zero-shot classifier weights: for each name, every
// template of a prompt set filled in, tokenised, encoded and L2-normalised,
// then averaged and normalised again (CLIP's recipe).
type Embedder struct {
	Tokenizer *Tokenizer
	Encoder   TextEncoder
	Context   int // tokens per text (default ContextLength)
	BatchSize int // texts per encoder call (default 256)
	// Truncated counts texts longer than the context, cut as open_clip does.
	Truncated int
}

// Embed returns one unit-length embedding per name for the templates.
func (e *Embedder) Embed(names, templates []string) ([][]float32, error) {
	ctx := e.Context
	if ctx <= 0 {
		ctx = ContextLength
	}
	batch := e.BatchSize
	if batch <= 0 {
		batch = 256
	}
	var owners []int
	var texts []string
	for i, n := range names {
		for _, t := range templates {
			texts = append(texts, Fill(t, n))
			owners = append(owners, i)
		}
	}
	sums := make([][]float64, len(names))
	ids := make([]int64, 0, batch*ctx)
	dim := -1
	for start := 0; start < len(texts); start += batch {
		end := min(start+batch, len(texts))
		ids = ids[:(end-start)*ctx]
		for k := start; k < end; k++ {
			if e.Tokenizer.Context(texts[k], ids[(k-start)*ctx:(k-start+1)*ctx]) {
				e.Truncated++
			}
		}
		out, d, err := e.Encoder.RunTokens(ids, end-start, ctx)
		if err != nil {
			return nil, fmt.Errorf("clip: encoding %q…: %w", texts[start], err)
		}
		if dim < 0 {
			dim = d
		} else if d != dim {
			return nil, fmt.Errorf("clip: the text encoder returned %d dimensions, then %d", dim, d)
		}
		for k := start; k < end; k++ {
			row := out[(k-start)*d : (k-start+1)*d]
			norm := 0.0
			for _, v := range row {
				norm += float64(v) * float64(v)
			}
			norm = math.Sqrt(norm)
			if norm == 0 || math.IsNaN(norm) || math.IsInf(norm, 0) {
				return nil, fmt.Errorf("clip: the text encoder gave %q an embedding of norm %v", texts[k], norm)
			}
			o := owners[k]
			if sums[o] == nil {
				sums[o] = make([]float64, d)
			}
			for j, v := range row {
				sums[o][j] += float64(v) / norm
			}
		}
	}
	out := make([][]float32, len(names))
	for i, s := range sums {
		if s == nil {
			return nil, fmt.Errorf("clip: no template for %q", names[i])
		}
		norm := 0.0
		for _, v := range s {
			norm += v * v
		}
		norm = math.Sqrt(norm)
		if norm == 0 {
			return nil, fmt.Errorf("clip: the templates of %q cancel out (zero mean embedding)", names[i])
		}
		out[i] = make([]float32, len(s))
		for j, v := range s {
			out[i][j] = float32(v / norm)
		}
	}
	return out, nil
}
