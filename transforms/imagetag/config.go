// Package imagetag is the image side of the count job, as plain Go: what
// the user asked for (Config) resolved at launch against the model's
// metadata and labels or concept embeddings (Resolve), and a worker's
// tagger built from it (Open): an ONNX Runtime session and the head that
// maps the model's outputs to the vocabulary, or a previous run's saved
// scores to replay. The count job's Processor (transforms/concept) queues
// images into batches and tallies what the tagger says.
package imagetag

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/conceptfreq/conceptfreq/internal/report"
	"github.com/conceptfreq/conceptfreq/io/paths"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/models/ort"
	"github.com/conceptfreq/conceptfreq/models/preprocess"
	"github.com/conceptfreq/conceptfreq/models/tagging"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
)

// Request is the image tagging the user asked for (the count command's
// flags), before any file is read. Resolve turns it into a Config.
type Request struct {
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
	// Image is the preprocessing the user asked for (the flags every
	// image command shares); the defaults are the model kind's
	// (preprocess.Defaults: a multilabel tagger RAM++'s, the embedding
	// tagger CLIP's, as embed and eval).
	Image          preprocess.Flags
	OrtLib         string
	IntraOpThreads int
	EmitScores     bool
	ScoreFloor     float64
	// ScoresDir recounts from a previous run's image_scores/ parts instead
	// of running a model.
	ScoresDir string
	// Similarity control: test-embeddings files (comma-separated, as
	// pipelines/embed --images writes them), the cosine similarity from
	// which a sample is a near-duplicate, and the floor from which it is
	// listed in near_duplicates/.
	NearDuplicates string
	NearThreshold  float64
	NearFloor      float64
	// AllowMismatch runs on when the test embeddings or concept
	// embeddings record another image encoder or preprocessing than the
	// run's (each difference a warning, and recorded); without it that is
	// an error at launch.
	AllowMismatch bool
}

// Config is image tagging as resolved at launch, what workers run with and
// run_stats.json records: the request with its defaults filled in (Tagger
// names the tagger), the preprocessing the model's metadata asks for, the
// vocabulary concepts the tagger does not know and, for a recount from
// saved scores, the earlier run's record.
type Config struct {
	Request
	Preprocess      preprocess.Options
	UnknownConcepts []string // vocabulary concepts the tagger does not know
	Recount         *Record  // with ScoresDir: the earlier run's image record
	// NativeDecoder is Decoder resolved on the launching machine: auto is
	// native where libjpeg-turbo loads there; workers that cannot load it
	// fail at setup, saying so.
	NativeDecoder bool
	// Near is similarity control as resolved (nil: none): the test
	// embeddings' files with their hashes, the threshold and floor.
	Near *NearRecord
	// ModelSHA256 is the sha256 of the image model (empty when not read:
	// a dry run's remote model, a recount).
	ModelSHA256 string
	// Warnings are what the launch should say on stderr: the mismatches
	// AllowMismatch let through.
	Warnings []string
}

// Decoding is how the workers decode images.
func (c Config) Decoding() preprocess.Decoding {
	return preprocess.Decoding{Native: c.NativeDecoder, ShrinkOnLoad: c.Image.ShrinkOnLoad && c.NativeDecoder, MaxPixels: c.Image.MaxPixels}
}

// DecoderName is the resolved decoder, as run_stats.json records it.
func (c Config) DecoderName() string {
	if c.NativeDecoder {
		return preprocess.DecoderNative
	}
	return preprocess.DecoderGo
}

// Enabled reports whether the image side runs.
func (c Request) Enabled() bool {
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
	ErrNoScores = errors.New("imagetag: the earlier run did not save image scores")
	// ErrNothingKnown: the tagger knows none of the vocabulary's concepts.
	// ErrNotRead is what a ReadFunc returns for a file it was asked not to
	// read (a dry run touches no cloud service): Resolve then keeps the
	// requested settings and the defaults for what the file would have
	// told (preprocessing, the concepts the tagger knows).
	ErrNotRead      = errors.New("not read in a dry run")
	ErrNothingKnown = errors.New("the tagger knows none of the vocabulary concepts")
)

// Resolve validates r against the vocabulary v and returns the
// configuration the workers run with. It reads the image model's metadata
// and labels or concept embeddings (or, for a recount, the earlier run's
// outputs) through read, without ONNX Runtime, to resolve preprocessing
// and list the concepts the tagger does not know.
func (r Request) Resolve(ctx context.Context, v *caption.Vocabulary, read paths.ReadFunc) (Config, error) {
	ic := Config{Request: r}
	if ic.Tagger == "" {
		ic.Tagger = tagging.None
		if ic.Model != "" {
			ic.Tagger = tagging.Multilabel
		}
	}
	if !ic.Enabled() {
		return ic, nil
	}
	if ic.Threshold < 0 || ic.Threshold >= 1 && ic.Tagger != tagging.Embedding {
		return Config{}, fmt.Errorf("imagetag: threshold %v: want a score in [0, 1)", ic.Threshold)
	}
	if !slices.Contains(ort.Devices, ic.Device) {
		return Config{}, fmt.Errorf("imagetag: device %q: want one of %v", ic.Device, ort.Devices)
	}
	if ic.BatchSize <= 0 {
		return Config{}, fmt.Errorf("imagetag: batch size %d: want at least 1", ic.BatchSize)
	}
	if ic.EmitScores && ic.ScoreFloor > ic.Threshold {
		return Config{}, fmt.Errorf("imagetag: score floor %v is above the threshold %v: saved scores could not recount this run", ic.ScoreFloor, ic.Threshold)
	}
	var err error
	if ic.ScoresDir != "" {
		if len(NearFiles(ic.NearDuplicates)) > 0 {
			return Config{}, fmt.Errorf("imagetag: --near_duplicates with a recount from saved scores (%s): the saved scores hold no image embeddings; run the embedding tagger", ic.ScoresDir)
		}
		ic, err = ic.resolveRecount(ctx, v, read)
	} else {
		if ic.NativeDecoder, err = preprocess.ResolveDecoder(ic.Image.Decoder); err != nil {
			return Config{}, fmt.Errorf("imagetag: --decoder=%s: %w", ic.Image.Decoder, err)
		}
		ic, err = ic.resolveTagger(ctx, v, read)
	}
	if err != nil {
		return Config{}, err
	}
	return ic, nil
}

func (ic Config) resolveRecount(ctx context.Context, v *caption.Vocabulary, read paths.ReadFunc) (Config, error) {
	if ic.EmitScores {
		return ic, fmt.Errorf("imagetag: saving image scores while recounting from %s: the scores are already there", ic.ScoresDir)
	}
	prev, err := readRunRecord(ctx, ic.ScoresDir, read)
	if errors.Is(err, ErrNotRead) {
		ic.UnknownConcepts = []string{}
		return ic, nil
	}
	if err != nil {
		return ic, err
	}
	if prev == nil || !prev.EmitScores {
		return ic, fmt.Errorf("%w: %s (run it with image scores saved)", ErrNoScores, ic.ScoresDir)
	}
	if ic.Threshold < prev.ScoreFloor {
		return ic, fmt.Errorf("imagetag: threshold %v is below the saved scores' floor %v: scores under the floor were not kept", ic.Threshold, prev.ScoreFloor)
	}
	ic.Recount = prev
	ic.Preprocess = preprocess.Options{Size: prev.InputSize, Resize: prev.Resize}
	copy(ic.Preprocess.Mean[:], prev.Mean)
	copy(ic.Preprocess.Std[:], prev.Std)
	// Known concepts: those the earlier run gave an image count. Concepts
	// of this vocabulary it did not have, or did not know, are unknown.
	path := paths.Join(ic.ScoresDir, tables.ConceptCountsFile)
	b, err := read(ctx, path)
	if err != nil {
		return ic, fmt.Errorf("imagetag: recount: %w", err)
	}
	prevRows, err := tables.ReadConceptCounts(bytes.NewReader(b), nil)
	if err != nil {
		return ic, fmt.Errorf("imagetag: recount: %s: %w", path, err)
	}
	known := map[string]bool{}
	for _, r := range prevRows {
		if r.ImageCount != nil {
			known[r.Concept] = true
		}
	}
	ic.UnknownConcepts = []string{}
	for _, name := range v.Names() {
		if !known[name] {
			ic.UnknownConcepts = append(ic.UnknownConcepts, name)
		}
	}
	return ic, nil
}

func (ic Config) resolveTagger(ctx context.Context, v *caption.Vocabulary, read paths.ReadFunc) (Config, error) {
	if ic.Model == "" {
		return ic, fmt.Errorf("imagetag: the %s tagger needs a model (--model)", ic.Tagger)
	}
	notRead := func() (Config, error) {
		var err error
		if ic.Preprocess, err = ic.preprocessing(map[string]string{}); err != nil {
			return ic, err
		}
		ic.UnknownConcepts = []string{}
		return ic.resolveNear(ctx, read, 0)
	}
	model, err := read(ctx, ic.Model)
	if errors.Is(err, ErrNotRead) {
		return notRead()
	}
	if err != nil {
		return ic, fmt.Errorf("imagetag: model %s: %w", ic.Model, err)
	}
	sum := sha256.Sum256(model)
	ic.ModelSHA256 = hex.EncodeToString(sum[:])
	head, md, err := (&ic).head(ctx, v, model, read)
	if errors.Is(err, ErrNotRead) {
		return notRead()
	}
	if err != nil {
		return ic, err
	}
	if ic.Preprocess, err = ic.preprocessing(md); err != nil {
		return ic, err
	}
	ic.UnknownConcepts = head.Unknown(v.Names())
	if len(ic.UnknownConcepts) == len(v.Concepts) {
		hint := "check the labels file or concept embeddings"
		switch {
		case ic.Tagger == tagging.Multilabel && ic.Labels != "":
			hint = "to count the tagger's own labels, pass them as the vocabulary too: --concepts=" + ic.Labels
		case ic.Tagger == tagging.Multilabel:
			hint = "to count the tagger's own labels, write them to a file (one per line, as in the model's conceptfreq.labels metadata) and pass it as --concepts"
		case ic.ConceptEmbeddings != "":
			hint = "compute the concept embeddings of this vocabulary (pipelines/embed --concepts=the same file)"
		}
		return ic, fmt.Errorf("%w: model %s, %s; %s", ErrNothingKnown, ic.Model, report.Plural(int64(len(v.Concepts)), "concept"), hint)
	}
	if ic.UnknownConcepts == nil {
		ic.UnknownConcepts = []string{}
	}
	return ic.resolveNear(ctx, read, head.OutputDim)
}

// checkPaired refuses concept embeddings made for another image encoder
// (embed --concepts --image_model records its sha256), unless
// AllowMismatch, which records a warning instead.
func (c *Config) checkPaired(data []byte) error {
	prov, err := tables.ReadProvenance(data, c.ConceptEmbeddings)
	if err != nil {
		return err
	}
	paired := prov[tables.MetaPairedImageModelSHA256]
	if paired == "" || paired == c.ModelSHA256 {
		return nil
	}
	msg := fmt.Sprintf("--concept_embeddings %s were made for the image encoder with sha256 %s, but --model %s has sha256 %s",
		c.ConceptEmbeddings, short(paired), c.Model, short(c.ModelSHA256))
	if !c.AllowMismatch {
		return fmt.Errorf("imagetag: %s: embed the concepts for this model (pipelines/embed --image_model=%s), or pass --allow_mismatch", msg, c.Model)
	}
	c.Warnings = append(c.Warnings, msg+" (--allow_mismatch)")
	return nil
}

// short is a sha256 cut to the 12 digits people compare.
func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}

// head loads what maps the model's outputs to the vocabulary: labels (file
// or model metadata) or concept embeddings. It also returns the model's
// metadata.
func (c *Config) head(ctx context.Context, v *caption.Vocabulary, model []byte, read paths.ReadFunc) (*tagging.Head, map[string]string, error) {
	lem, err := caption.English()
	if err != nil {
		return nil, nil, err
	}
	norm := func(s string) string { return caption.NormalizeConcept(lem, s) }
	md, err := ort.ReadMetadata(model)
	if err != nil {
		return nil, nil, fmt.Errorf("imagetag: model %s: %w", c.Model, err)
	}
	switch c.Tagger {
	case tagging.Multilabel:
		var labels []string
		if c.Labels != "" {
			b, err := read(ctx, c.Labels)
			if err != nil {
				return nil, nil, fmt.Errorf("imagetag: tagger labels %s: %w", c.Labels, err)
			}
			if labels, err = tagging.ReadLabels(bytes.NewReader(b)); err != nil {
				return nil, nil, fmt.Errorf("imagetag: tagger labels %s: %w", c.Labels, err)
			}
		} else {
			labels = tagging.SplitLabels(md[tagging.MetaLabels])
		}
		output := c.Output
		if output == "" {
			output = md[tagging.MetaOutput]
		}
		if output != "" && output != "probabilities" && output != "logits" {
			return nil, nil, fmt.Errorf("imagetag: tagger output %q: want probabilities or logits", output)
		}
		if w, ok := ort.OutputWidth(model); ok && w != int64(len(labels)) {
			return nil, nil, fmt.Errorf("imagetag: model %s has %d output columns but %d labels (check the labels file)", c.Model, w, len(labels))
		}
		h, err := tagging.NewMultilabel(v.Names(), labels, output == "logits", norm)
		return h, md, err
	case tagging.Embedding:
		if c.ConceptEmbeddings == "" {
			return nil, nil, fmt.Errorf("imagetag: the embedding tagger needs concept embeddings (--concept_embeddings: a Parquet of concept, embedding, as pipelines/embed writes it)")
		}
		b, err := read(ctx, c.ConceptEmbeddings)
		if err != nil {
			return nil, nil, fmt.Errorf("imagetag: concept embeddings %s: %w", c.ConceptEmbeddings, err)
		}
		names, embs, err := tables.ReadConceptEmbeddings(b, c.ConceptEmbeddings, nil)
		if err != nil {
			return nil, nil, err
		}
		if err := c.checkPaired(b); err != nil {
			return nil, nil, err
		}
		if w, ok := ort.OutputWidth(model); ok && len(embs) > 0 && w != int64(len(embs[0])) {
			return nil, nil, fmt.Errorf("imagetag: model %s gives %d-dimensional embeddings but the concept embeddings %s have %d", c.Model, w, c.ConceptEmbeddings, len(embs[0]))
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
				return nil, nil, fmt.Errorf("imagetag: embedding activation %q: want none, sigmoid or softmax", c.EmbedActivation)
			}
		}
		if c.EmbedTemperature != 0 {
			h.Temperature = c.EmbedTemperature
		}
		return h, md, nil
	}
	return nil, nil, fmt.Errorf("imagetag: tagger %q: want none, multilabel or embedding", c.Tagger)
}

// preprocessing resolves the input options as every image command does
// (tagging.ImageOptions): the model kind's defaults, then its metadata,
// then the flags.
func (c Config) preprocessing(md map[string]string) (preprocess.Options, error) {
	o, err := c.Image.Options(c.modelKind(), tagging.MetadataOverrides(md))
	if err != nil {
		return o, fmt.Errorf("imagetag: %w", err)
	}
	return o, nil
}

// modelKind is the kind of model the tagger runs, for its preprocessing
// defaults.
func (c Config) modelKind() string {
	if c.Tagger == tagging.Embedding {
		return preprocess.KindEncoder
	}
	return preprocess.KindTagger
}

// Spec is the image preprocessing the run feeds its model.
func (c Config) Spec() preprocess.Spec {
	return preprocess.NewSpec(c.Preprocess, c.Decoding())
}

// Record is what run_stats.json records about image tagging (its
// config.image).
type Record struct {
	Tagger          string    `json:"tagger"`
	Model           string    `json:"model,omitempty"`
	ModelSHA256     string    `json:"model_sha256,omitempty"`
	ScoresDir       string    `json:"recounted_from,omitempty"`
	Threshold       float64   `json:"threshold"`
	Device          string    `json:"device"`
	BatchSize       int       `json:"batch_size"`
	InputSize       int       `json:"input_size"`
	Resize          string    `json:"resize"`
	Mean            []float32 `json:"mean"`
	Std             []float32 `json:"std"`
	Decoder         string    `json:"decoder,omitempty"` // native or go (none for a recount)
	ShrinkOnLoad    bool      `json:"shrink_on_load"`
	EmitScores      bool      `json:"emit_scores"`
	ScoreFloor      float64   `json:"score_floor"`
	UnknownConcepts []string  `json:"unknown_concepts"`
	// NearDuplicates is similarity control (absent: none).
	NearDuplicates *NearRecord `json:"near_duplicates,omitempty"`
	// Warnings are the mismatches --allow_mismatch let through.
	Warnings []string `json:"warnings,omitempty"`
}

// Record is what run_stats.json records about the image side of a run of
// the resolved c (nil when no image tagging runs).
func (c Config) Record() *Record {
	if !c.Enabled() {
		return nil
	}
	p := c.Preprocess
	im := &Record{Tagger: c.Tagger, Model: c.Model, ModelSHA256: c.ModelSHA256, Threshold: c.Threshold, Device: c.Device,
		BatchSize: c.BatchSize, InputSize: p.Size, Resize: p.Resize, Mean: slices.Clone(p.Mean[:]), Std: slices.Clone(p.Std[:]),
		EmitScores: c.EmitScores, ScoreFloor: c.ScoreFloor, UnknownConcepts: c.UnknownConcepts, NearDuplicates: c.Near, Warnings: c.Warnings}
	if c.ScoresDir == "" {
		im.Decoder, im.ShrinkOnLoad = c.DecoderName(), c.Decoding().ShrinkOnLoad
	}
	if c.Recount != nil {
		im.Tagger, im.Model, im.ModelSHA256, im.ScoresDir = c.Recount.Tagger, c.Recount.Model, c.Recount.ModelSHA256, c.ScoresDir
		im.Decoder, im.ShrinkOnLoad = c.Recount.Decoder, c.Recount.ShrinkOnLoad
	}
	return im
}

// readRunRecord reads the image record of a finished run's
// run_stats.json (nil when it tagged no images).
func readRunRecord(ctx context.Context, dir string, read paths.ReadFunc) (*Record, error) {
	path := paths.Join(dir, tables.RunStatsFile)
	b, err := read(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var rs struct {
		Config struct {
			Image *Record `json:"image"`
		} `json:"config"`
	}
	if err := json.Unmarshal(b, &rs); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return rs.Config.Image, nil
}
