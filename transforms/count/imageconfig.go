package count

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strconv"

	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/models/onnxbuild"
	"github.com/conceptfreq/conceptfreq/models/ort"
	"github.com/conceptfreq/conceptfreq/models/preprocess"
	"github.com/conceptfreq/conceptfreq/models/tagging"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
)

// ImageConfig is the serialisable configuration of image tagging. Zero
// values of the preprocessing fields mean "from the model's metadata, else
// the default" (384, squash, ImageNet mean/std, probabilities).
type ImageConfig struct {
	Tagger            string // none, multilabel, embedding
	Model             string // ONNX file (local or gs://)
	Labels            string // multilabel: output labels file (else model metadata)
	ConceptEmbeddings string // embedding: Parquet of concept, embedding
	Output            string // multilabel: probabilities or logits
	EmbedScale        float64
	EmbedActivation   string // none, sigmoid, softmax
	EmbedTemperature  float64
	Threshold         float64 // strict >
	Device            string  // cpu, cuda, tensorrt, auto
	BatchSize         int
	InputSize         int
	Resize            string
	Mean, Std         string
	OrtLib            string
	IntraOpThreads    int
	MaxPixels         int64
	EmitScores        bool
	ScoreFloor        float64
	// ScoresDir recounts from a previous run's image_scores.parquet instead
	// of running a model; UnknownConcepts are that run's unknown concepts.
	ScoresDir       string
	UnknownConcepts []string
}

// Enabled reports whether the image side runs.
func (c ImageConfig) Enabled() bool {
	return (c.Tagger != "" && c.Tagger != tagging.None) || c.ScoresDir != ""
}

// Reader reads a whole file (through Beam's filesystems in the job).
type Reader func(ctx context.Context, path string) ([]byte, error)

// Head loads what is needed to map the model's outputs to the vocabulary:
// labels (file or model metadata) or concept embeddings. It also returns
// the model's metadata. It does not need ONNX Runtime, so the launcher can
// validate the configuration and list unknown concepts.
func (c ImageConfig) Head(ctx context.Context, v *caption.Vocabulary, read Reader) (*tagging.Head, map[string]string, error) {
	model, err := read(ctx, c.Model)
	if err != nil {
		return nil, nil, fmt.Errorf("--model %s: %w", c.Model, err)
	}
	return c.head(ctx, v, model, read)
}

// head is Head for a model already read.
func (c ImageConfig) head(ctx context.Context, v *caption.Vocabulary, model []byte, read Reader) (*tagging.Head, map[string]string, error) {
	lem, err := caption.English()
	if err != nil {
		return nil, nil, err
	}
	norm := func(s string) string { return caption.NormalizeConcept(lem, s) }
	md, err := onnxbuild.ReadMetadata(model)
	if err != nil {
		return nil, nil, fmt.Errorf("--model %s: %w", c.Model, err)
	}
	switch c.Tagger {
	case tagging.Multilabel:
		var labels []string
		if c.Labels != "" {
			b, err := read(ctx, c.Labels)
			if err != nil {
				return nil, nil, fmt.Errorf("--labels %s: %w", c.Labels, err)
			}
			if labels, err = tagging.ReadLabels(bytes.NewReader(b)); err != nil {
				return nil, nil, fmt.Errorf("--labels %s: %w", c.Labels, err)
			}
		} else {
			labels = tagging.SplitLabels(md[tagging.MetaLabels])
		}
		output := c.Output
		if output == "" {
			output = md[tagging.MetaOutput]
		}
		if output != "" && output != "probabilities" && output != "logits" {
			return nil, nil, fmt.Errorf("--tagger_output %q: want probabilities or logits", output)
		}
		h, err := tagging.NewMultilabel(v.Names(), labels, output == "logits", norm)
		return h, md, err
	case tagging.Embedding:
		if c.ConceptEmbeddings == "" {
			return nil, nil, fmt.Errorf("--tagger=embedding needs --concept_embeddings")
		}
		b, err := read(ctx, c.ConceptEmbeddings)
		if err != nil {
			return nil, nil, fmt.Errorf("--concept_embeddings %s: %w", c.ConceptEmbeddings, err)
		}
		names, embs, err := tagging.ReadConceptEmbeddings(b, c.ConceptEmbeddings)
		if err != nil {
			return nil, nil, err
		}
		h, err := tagging.NewEmbedding(v.Names(), names, embs, norm)
		if err != nil {
			return nil, nil, err
		}
		if c.EmbedScale != 0 {
			h.Scale = c.EmbedScale
		}
		if c.EmbedActivation != "" {
			switch c.EmbedActivation {
			case "none", "sigmoid", "softmax":
				h.Activation = c.EmbedActivation
			default:
				return nil, nil, fmt.Errorf("--embedding_activation %q: want none, sigmoid or softmax", c.EmbedActivation)
			}
		}
		if c.EmbedTemperature != 0 {
			h.Temperature = c.EmbedTemperature
		}
		return h, md, nil
	}
	return nil, nil, fmt.Errorf("--tagger %q: want none, multilabel or embedding", c.Tagger)
}

// Preprocessing resolves the input options from flags, else metadata,
// else RAM++'s defaults.
func (c ImageConfig) Preprocessing(md map[string]string) (preprocess.Options, error) {
	o := preprocess.DefaultOptions()
	if s := md[tagging.MetaInputSize]; s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return o, fmt.Errorf("model metadata %s=%q: %v", tagging.MetaInputSize, s, err)
		}
		o.Size = n
	}
	if c.InputSize > 0 {
		o.Size = c.InputSize
	}
	if s := md[tagging.MetaResize]; s != "" {
		o.Resize = s
	}
	if c.Resize != "" {
		o.Resize = c.Resize
	}
	for _, f := range []struct {
		flag, meta string
		dst        *[3]float32
	}{{c.Mean, md[tagging.MetaMean], &o.Mean}, {c.Std, md[tagging.MetaStd], &o.Std}} {
		for _, s := range []string{f.meta, f.flag} {
			if s == "" {
				continue
			}
			v, err := preprocess.ParseTriple(s)
			if err != nil {
				return o, err
			}
			*f.dst = v
		}
	}
	return o, o.Validate()
}

// open builds a worker's image side: an ONNX Runtime session (or the saved
// scores to replay) and the function that releases it.
func (c ImageConfig) open(ctx context.Context, v *caption.Vocabulary, read Reader) (*ImageSide, func() error, error) {
	side := &ImageSide{Threshold: c.Threshold, MaxPixels: c.MaxPixels, BatchSize: c.BatchSize,
		ScoreFloor: c.ScoreFloor, EmitScores: c.EmitScores, Known: make([]bool, len(v.Concepts))}
	if c.ScoresDir != "" {
		unknown := map[string]bool{}
		for _, u := range c.UnknownConcepts {
			unknown[u] = true
		}
		index := map[string]int32{}
		for i, name := range v.Names() {
			index[name] = int32(i)
			side.Known[i] = !unknown[name]
		}
		data, err := read(ctx, JoinPath(c.ScoresDir, tables.ImageScoresFile))
		if err != nil {
			return nil, nil, fmt.Errorf("--scores: %w", err)
		}
		side.Saved = map[string][]conceptScore{}
		err = tables.ReadScores(data, func(r tables.ScoreRow) error {
			var cs []conceptScore
			for i, name := range r.Concepts {
				if ci, ok := index[name]; ok {
					cs = append(cs, conceptScore{concept: ci, score: r.Scores[i]})
				}
			}
			side.Saved[r.Shard+"\x00"+r.Key] = cs
			return nil
		})
		return side, func() error { return nil }, err
	}
	model, err := read(ctx, c.Model)
	if err != nil {
		return nil, nil, fmt.Errorf("--model %s: %w", c.Model, err)
	}
	head, md, err := c.head(ctx, v, model, read)
	if err != nil {
		return nil, nil, err
	}
	copy(side.Known, head.Known)
	opts, err := c.Preprocessing(md)
	if err != nil {
		return nil, nil, err
	}
	s, err := ort.OpenData(c.Model, model, ort.Options{LibPath: ort.ResolveLib(c.OrtLib), Device: c.Device, IntraOpThreads: c.IntraOpThreads})
	if err != nil {
		return nil, nil, err
	}
	side.Tagger = &onnxTagger{s: s, head: head, opts: opts}
	return side, s.Close, nil
}

// onnxTagger runs the model and maps its outputs through the head.
type onnxTagger struct {
	s    *ort.Session
	head *tagging.Head
	opts preprocess.Options
}

func (t *onnxTagger) Options() preprocess.Options { return t.opts }

func (t *onnxTagger) Tag(batch []float32, n int, scores [][]float64) error {
	out, c, err := t.s.Run(batch, n, t.opts.Size, t.opts.Size)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if err := t.head.Scores(out[i*c:(i+1)*c], scores[i]); err != nil {
			return err
		}
		for j, v := range scores[i] {
			if math.IsInf(v, 0) {
				return fmt.Errorf("count: tagger produced %v for concept %d", v, j)
			}
		}
	}
	return nil
}
