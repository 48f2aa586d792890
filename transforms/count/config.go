package count

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/conceptfreq/conceptfreq/internal/report"
	"github.com/conceptfreq/conceptfreq/io/files"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/models/ort"
	"github.com/conceptfreq/conceptfreq/models/preprocess"
	"github.com/conceptfreq/conceptfreq/models/tagging"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
)

// ReadFunc reads a whole file: files.ReadAll at launch, a worker's
// files.Clients.ReadAll in the workers.
type ReadFunc func(ctx context.Context, path string) ([]byte, error)

// Config is the count job's one configuration. The launcher fills the
// requested fields from its flags and calls Resolve, which validates them
// and returns a copy with the resolved fields set (preprocessing, the
// concepts the tagger knows). The resolved Config is what the workers get
// (it is serialised into the job) and what run_stats.json records
// (Record).
type Config struct {
	Inputs           []string          // input patterns as given
	Output           string            // output directory (local or gs://)
	Concepts         []caption.Concept // the vocabulary, in output order
	VocabularySource string
	VocabularyHash   string
	SharedKeys       [][]string // vocabulary rows that share a match key (same counts)
	DroppedLines     []string   // vocabulary lines dropped as exact repeats
	Rule             caption.Rule
	POS              caption.POS
	CaptionExt       string // WebDataset caption member (default txt)
	CaptionColumn    string // Parquet caption column (default auto-detected)
	EmitSamples      bool
	Image            ImageConfig
	State            string // with --state: the fingerprint folder of kept per-shard partials (WithState)
}

// WithVocabulary returns c with the vocabulary's concepts, source and hash.
func (c Config) WithVocabulary(v *caption.Vocabulary) Config {
	c.Concepts, c.VocabularySource, c.VocabularyHash = v.Concepts, v.Source, v.Hash()
	c.SharedKeys, c.DroppedLines = v.SharedKeys, nil
	for _, d := range v.Dropped {
		c.DroppedLines = append(c.DroppedLines, d.String())
	}
	return c
}

// Vocabulary returns the configuration's vocabulary.
func (c Config) Vocabulary() *caption.Vocabulary {
	return &caption.Vocabulary{Source: c.VocabularySource, Concepts: c.Concepts}
}

// Names returns the vocabulary's concept names in output order.
func (c Config) Names() []string { return c.Vocabulary().Names() }

// ImageConfig configures image tagging. The requested fields come from the
// user; Resolve sets Preprocess, UnknownConcepts and, for a recount from
// saved scores, Recount.
type ImageConfig struct {
	Tagger            string // "" (multilabel when Model is set, else none), none, multilabel, embedding
	Model             string // ONNX file (local or gs://)
	Labels            string // multilabel: output labels file (else model metadata)
	ConceptEmbeddings string // embedding: Parquet of concept, embedding
	Output            string // multilabel: probabilities or logits (default: metadata, else probabilities)
	EmbedScale        float64
	EmbedActivation   string // none, sigmoid, softmax
	EmbedTemperature  float64
	Threshold         float64 // strict >
	Device            string  // cpu, cuda, tensorrt, auto
	BatchSize         int
	InputSize         int    // 0: from the model's metadata, else 384
	Resize            string // "": from metadata, else squash
	Mean, Std         string // "": from metadata, else ImageNet's
	OrtLib            string
	IntraOpThreads    int
	MaxPixels         int64
	EmitScores        bool
	ScoreFloor        float64
	// ScoresDir recounts from a previous run's image_scores/ parts instead
	// of running a model.
	ScoresDir string

	// Resolved.
	Preprocess      preprocess.Options
	UnknownConcepts []string        // vocabulary concepts the tagger does not know
	Recount         *ImageRunConfig // with ScoresDir: the earlier run's image record
}

// Enabled reports whether the image side runs.
func (c ImageConfig) Enabled() bool {
	switch c.Tagger {
	case "":
		return c.Model != "" || c.ScoresDir != ""
	case tagging.None:
		return c.ScoresDir != ""
	}
	return true
}

// Errors of Resolve that callers may want to tell apart.
var (
	// ErrNoScores: the run named for a recount did not save image scores.
	ErrNoScores = errors.New("count: the earlier run did not save image scores")
	// ErrNothingKnown: the tagger knows none of the vocabulary's concepts.
	// ErrNotRead is what a ReadFunc returns for a file it was asked not to
	// read (a dry run touches no cloud service): Resolve then keeps the
	// requested settings and the defaults for what the file would have
	// told (preprocessing, the concepts the tagger knows).
	ErrNotRead      = errors.New("not read in a dry run")
	ErrNothingKnown = errors.New("count: the tagger knows none of the vocabulary concepts")
)

// Resolve validates c and returns the configuration the job runs with. It
// reads the image model's metadata and labels or concept embeddings (or the
// earlier run's outputs for a recount) through read, without ONNX Runtime,
// to resolve preprocessing and list the concepts the tagger does not know.
// c itself is not changed.
func (c Config) Resolve(ctx context.Context, read ReadFunc) (Config, error) {
	if len(c.Concepts) == 0 {
		return c, fmt.Errorf("count: the vocabulary has no concepts")
	}
	if c.Output == "" {
		return c, fmt.Errorf("count: no output location")
	}
	if c.Rule == caption.Study {
		if c.POS == caption.POSNouns {
			return c, fmt.Errorf("count: the study rule keeps nouns itself; the noun filter does not combine with it")
		}
		if c.Image.Enabled() || c.EmitSamples {
			return c, fmt.Errorf("count: the study rule counts captions only for now: it does not combine with image tagging or per-sample rows")
		}
		lem, err := caption.English()
		if err != nil {
			return c, err
		}
		if err := caption.CheckStudyVocabulary(c.Vocabulary(), lem); err != nil {
			return c, err
		}
	}
	ic := c.Image
	ic.UnknownConcepts = slices.Clone(ic.UnknownConcepts)
	if ic.Tagger == "" {
		ic.Tagger = tagging.None
		if ic.Model != "" {
			ic.Tagger = tagging.Multilabel
		}
	}
	if !ic.Enabled() {
		c.Image = ic
		return c, nil
	}
	if ic.Threshold < 0 || ic.Threshold >= 1 && ic.Tagger != tagging.Embedding {
		return c, fmt.Errorf("count: threshold %v: want a score in [0, 1)", ic.Threshold)
	}
	if !slices.Contains(ort.Devices, ic.Device) {
		return c, fmt.Errorf("count: device %q: want one of %v", ic.Device, ort.Devices)
	}
	if ic.BatchSize <= 0 {
		return c, fmt.Errorf("count: batch size %d: want at least 1", ic.BatchSize)
	}
	if ic.EmitScores && ic.ScoreFloor > ic.Threshold {
		return c, fmt.Errorf("count: score floor %v is above the threshold %v: saved scores could not recount this run", ic.ScoreFloor, ic.Threshold)
	}
	var err error
	if ic.ScoresDir != "" {
		ic, err = c.resolveRecount(ctx, ic, read)
	} else {
		ic, err = c.resolveTagger(ctx, ic, read)
	}
	if err != nil {
		return c, err
	}
	c.Image = ic
	return c, nil
}

func (c Config) resolveRecount(ctx context.Context, ic ImageConfig, read ReadFunc) (ImageConfig, error) {
	if ic.EmitScores {
		return ic, fmt.Errorf("count: saving image scores while recounting from %s: the scores are already there", ic.ScoresDir)
	}
	prev, err := ReadRunStats(ctx, ic.ScoresDir, read)
	if errors.Is(err, ErrNotRead) {
		ic.UnknownConcepts = []string{}
		return ic, nil
	}
	if err != nil {
		return ic, err
	}
	if prev.Config.Image == nil || !prev.Config.Image.EmitScores {
		return ic, fmt.Errorf("%w: %s (run it with image scores saved)", ErrNoScores, ic.ScoresDir)
	}
	if ic.Threshold < prev.Config.Image.ScoreFloor {
		return ic, fmt.Errorf("count: threshold %v is below the saved scores' floor %v: scores under the floor were not kept", ic.Threshold, prev.Config.Image.ScoreFloor)
	}
	ic.Recount = prev.Config.Image
	ic.Preprocess = preprocess.Options{Size: prev.Config.Image.InputSize, Resize: prev.Config.Image.Resize}
	copy(ic.Preprocess.Mean[:], prev.Config.Image.Mean)
	copy(ic.Preprocess.Std[:], prev.Config.Image.Std)
	// Known concepts: those the earlier run gave an image count. Concepts
	// of this vocabulary it did not have, or did not know, are unknown.
	path := files.Join(ic.ScoresDir, tables.ConceptCountsFile)
	b, err := read(ctx, path)
	if err != nil {
		return ic, fmt.Errorf("count: recount: %w", err)
	}
	prevRows, err := tables.ReadConceptCounts(bytes.NewReader(b), nil)
	if err != nil {
		return ic, fmt.Errorf("count: recount: %s: %w", path, err)
	}
	known := map[string]bool{}
	for _, r := range prevRows {
		if r.ImageCount != nil {
			known[r.Concept] = true
		}
	}
	ic.UnknownConcepts = []string{}
	for _, name := range c.Names() {
		if !known[name] {
			ic.UnknownConcepts = append(ic.UnknownConcepts, name)
		}
	}
	return ic, nil
}

func (c Config) resolveTagger(ctx context.Context, ic ImageConfig, read ReadFunc) (ImageConfig, error) {
	if ic.Model == "" {
		return ic, fmt.Errorf("count: the %s tagger needs a model (--model)", ic.Tagger)
	}
	notRead := func() (ImageConfig, error) {
		var err error
		ic.Preprocess, err = ic.preprocessing(map[string]string{})
		ic.UnknownConcepts = []string{}
		return ic, err
	}
	model, err := read(ctx, ic.Model)
	if errors.Is(err, ErrNotRead) {
		return notRead()
	}
	if err != nil {
		return ic, fmt.Errorf("count: model %s: %w", ic.Model, err)
	}
	head, md, err := ic.head(ctx, c.Vocabulary(), model, read)
	if errors.Is(err, ErrNotRead) {
		return notRead()
	}
	if err != nil {
		return ic, err
	}
	if ic.Preprocess, err = ic.preprocessing(md); err != nil {
		return ic, err
	}
	ic.UnknownConcepts = head.Unknown(c.Names())
	if len(ic.UnknownConcepts) == len(c.Concepts) {
		hint := "check the labels file or concept embeddings"
		switch {
		case ic.Tagger == tagging.Multilabel && ic.Labels != "":
			hint = "to count the tagger's own labels, pass them as the vocabulary too: --concepts=" + ic.Labels
		case ic.Tagger == tagging.Multilabel:
			hint = "to count the tagger's own labels, write them to a file (one per line, as in the model's conceptfreq.labels metadata) and pass it as --concepts"
		case ic.ConceptEmbeddings != "":
			hint = "compute the concept embeddings of this vocabulary (pipelines/embed --concepts=the same file)"
		}
		return ic, fmt.Errorf("%w: model %s, %s; %s", ErrNothingKnown, ic.Model, report.Plural(int64(len(c.Concepts)), "concept"), hint)
	}
	if ic.UnknownConcepts == nil {
		ic.UnknownConcepts = []string{}
	}
	return ic, nil
}

// head loads what maps the model's outputs to the vocabulary: labels (file
// or model metadata) or concept embeddings. It also returns the model's
// metadata.
func (c ImageConfig) head(ctx context.Context, v *caption.Vocabulary, model []byte, read ReadFunc) (*tagging.Head, map[string]string, error) {
	lem, err := caption.English()
	if err != nil {
		return nil, nil, err
	}
	norm := func(s string) string { return caption.NormalizeConcept(lem, s) }
	md, err := ort.ReadMetadata(model)
	if err != nil {
		return nil, nil, fmt.Errorf("count: model %s: %w", c.Model, err)
	}
	switch c.Tagger {
	case tagging.Multilabel:
		var labels []string
		if c.Labels != "" {
			b, err := read(ctx, c.Labels)
			if err != nil {
				return nil, nil, fmt.Errorf("count: tagger labels %s: %w", c.Labels, err)
			}
			if labels, err = tagging.ReadLabels(bytes.NewReader(b)); err != nil {
				return nil, nil, fmt.Errorf("count: tagger labels %s: %w", c.Labels, err)
			}
		} else {
			labels = tagging.SplitLabels(md[tagging.MetaLabels])
		}
		output := c.Output
		if output == "" {
			output = md[tagging.MetaOutput]
		}
		if output != "" && output != "probabilities" && output != "logits" {
			return nil, nil, fmt.Errorf("count: tagger output %q: want probabilities or logits", output)
		}
		if w, ok := ort.OutputWidth(model); ok && w != int64(len(labels)) {
			return nil, nil, fmt.Errorf("count: model %s has %d output columns but %d labels (check the labels file)", c.Model, w, len(labels))
		}
		h, err := tagging.NewMultilabel(v.Names(), labels, output == "logits", norm)
		return h, md, err
	case tagging.Embedding:
		if c.ConceptEmbeddings == "" {
			return nil, nil, fmt.Errorf("count: the embedding tagger needs concept embeddings (--concept_embeddings: a Parquet of concept, embedding, as pipelines/embed writes it)")
		}
		b, err := read(ctx, c.ConceptEmbeddings)
		if err != nil {
			return nil, nil, fmt.Errorf("count: concept embeddings %s: %w", c.ConceptEmbeddings, err)
		}
		names, embs, err := tables.ReadConceptEmbeddings(b, c.ConceptEmbeddings, nil)
		if err != nil {
			return nil, nil, err
		}
		if w, ok := ort.OutputWidth(model); ok && len(embs) > 0 && w != int64(len(embs[0])) {
			return nil, nil, fmt.Errorf("count: model %s gives %d-dimensional embeddings but the concept embeddings %s have %d", c.Model, w, c.ConceptEmbeddings, len(embs[0]))
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
				return nil, nil, fmt.Errorf("count: embedding activation %q: want none, sigmoid or softmax", c.EmbedActivation)
			}
		}
		if c.EmbedTemperature != 0 {
			h.Temperature = c.EmbedTemperature
		}
		return h, md, nil
	}
	return nil, nil, fmt.Errorf("count: tagger %q: want none, multilabel or embedding", c.Tagger)
}

// preprocessing resolves the input options from the requested fields, else
// the model's metadata, else RAM++'s defaults.
func (c ImageConfig) preprocessing(md map[string]string) (preprocess.Options, error) {
	o, err := preprocess.DefaultOptions().With(tagging.MetadataOverrides(md))
	if err != nil {
		return o, fmt.Errorf("count: model metadata: %w", err)
	}
	size := ""
	if c.InputSize > 0 {
		size = strconv.Itoa(c.InputSize)
	}
	return o.With(preprocess.Overrides{Size: size, Resize: c.Resize, Mean: c.Mean, Std: c.Std})
}

// RunConfig is what run_stats.json records about the configuration.
type RunConfig struct {
	Inputs           []string        `json:"inputs"`
	Files            int             `json:"files"`
	VocabularySource string          `json:"vocabulary"`
	VocabularySize   int             `json:"vocabulary_size"`
	VocabularyHash   string          `json:"vocabulary_sha256"`
	SharedKeys       [][]string      `json:"shared_match_keys"`
	DroppedLines     []string        `json:"dropped_vocabulary_lines,omitempty"`
	Match            string          `json:"match"`
	POS              string          `json:"pos"`
	Lemmatizer       string          `json:"lemmatizer"`
	CaptionExt       string          `json:"caption_ext"`
	CaptionColumn    string          `json:"caption_column"`
	Runner           string          `json:"runner"`
	EmitSamples      bool            `json:"emit_samples"`
	State            string          `json:"state,omitempty"` // --state fingerprint folder
	Image            *ImageRunConfig `json:"image,omitempty"`
}

// ImageRunConfig is what run_stats.json records about image tagging.
type ImageRunConfig struct {
	Tagger          string    `json:"tagger"`
	Model           string    `json:"model,omitempty"`
	ScoresDir       string    `json:"recounted_from,omitempty"`
	Threshold       float64   `json:"threshold"`
	Device          string    `json:"device"`
	BatchSize       int       `json:"batch_size"`
	InputSize       int       `json:"input_size"`
	Resize          string    `json:"resize"`
	Mean            []float32 `json:"mean"`
	Std             []float32 `json:"std"`
	EmitScores      bool      `json:"emit_scores"`
	ScoreFloor      float64   `json:"score_floor"`
	UnknownConcepts []string  `json:"unknown_concepts"`
}

// Record is what run_stats.json says about a run of c on the named runner.
// Its Files, the number of input files, is filled in when the run ends.
func (c Config) Record(runner string) RunConfig {
	rc := RunConfig{
		Inputs:           c.Inputs,
		VocabularySource: c.VocabularySource,
		VocabularySize:   len(c.Concepts),
		VocabularyHash:   c.VocabularyHash,
		SharedKeys:       c.SharedKeys,
		DroppedLines:     c.DroppedLines,
		Match:            string(c.Rule),
		POS:              string(c.POS),
		Lemmatizer:       caption.LemmatizerName,
		CaptionExt:       c.CaptionExt,
		CaptionColumn:    c.CaptionColumn,
		Runner:           runner,
		EmitSamples:      c.EmitSamples,
		State:            c.State,
	}
	ic := c.Image
	if !ic.Enabled() {
		return rc
	}
	p := ic.Preprocess
	im := &ImageRunConfig{Tagger: ic.Tagger, Model: ic.Model, Threshold: ic.Threshold, Device: ic.Device,
		BatchSize: ic.BatchSize, InputSize: p.Size, Resize: p.Resize, Mean: slices.Clone(p.Mean[:]), Std: slices.Clone(p.Std[:]),
		EmitScores: ic.EmitScores, ScoreFloor: ic.ScoreFloor, UnknownConcepts: ic.UnknownConcepts}
	if ic.Recount != nil {
		im.Tagger, im.Model, im.ScoresDir = ic.Recount.Tagger, ic.Recount.Model, ic.ScoresDir
	}
	rc.Image = im
	return rc
}

// ReadRunStats reads run_stats.json back from a finished run's output
// directory.
func ReadRunStats(ctx context.Context, dir string, read ReadFunc) (*RunStats, error) {
	path := files.Join(dir, tables.RunStatsFile)
	b, err := read(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("count: reading %s: %w", path, err)
	}
	var rs RunStats
	if err := json.Unmarshal(b, &rs); err != nil {
		return nil, fmt.Errorf("count: reading %s: %w", path, err)
	}
	return &rs, nil
}
