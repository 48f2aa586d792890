package count

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/conceptfreq/conceptfreq/io/paths"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
	"github.com/conceptfreq/conceptfreq/transforms/imagetag"
)

// Request is the count job the user asked for: the command's flags and
// the vocabulary loaded from --concepts, before any model, labels or state
// is read. Resolve turns it into the Config the job runs with.
type Request struct {
	Inputs        []string            // input patterns as given
	Output        string              // output directory (local or gs://)
	Vocabulary    *caption.Vocabulary // the concepts, in output order
	Rule          caption.Rule
	POS           caption.POS
	CaptionExt    string // WebDataset caption member (default txt)
	CaptionColumn string // Parquet caption column (default auto-detected)
	EmitSamples   bool
	Image         imagetag.Request
	// StateDir is the --state directory ("": none); Resolve picks the
	// folder of the configuration's fingerprint in it (Config.PartialsDir).
	StateDir string
	// MaxRejectFraction fails the run (status failed in run_stats.json)
	// when more than this fraction of the samples read are rejected; nil
	// is no limit.
	MaxRejectFraction *float64
	// Version is the tool's version and commit, recorded in run_stats.json.
	Version string
}

// Config is the count job as resolved at launch: what the workers get (it
// is serialised into the job) and what run_stats.json records (Record).
type Config struct {
	Inputs           []string
	Output           string
	Concepts         []caption.Concept // the vocabulary, in output order
	VocabularySource string
	VocabularyHash   string
	SharedKeys       [][]string // vocabulary rows that share a match key (same counts)
	DroppedLines     []string   // vocabulary lines dropped as exact repeats
	Rule             caption.Rule
	POS              caption.POS
	CaptionExt       string
	CaptionColumn    string
	EmitSamples      bool
	Image            imagetag.Config
	// PartialsDir is the folder of this configuration's fingerprint in
	// --state, where the per-shard partials are kept ("": no state).
	PartialsDir string
	// ProgressID names the launcher's Progress (NewProgress), for workers
	// in its process; it changes no count and is not recorded.
	ProgressID string
	// MaxRejectFraction and Version: as in Request.
	MaxRejectFraction *float64
	Version           string
}

// Vocabulary returns the configuration's vocabulary.
func (c Config) Vocabulary() *caption.Vocabulary {
	return &caption.Vocabulary{Source: c.VocabularySource, Concepts: c.Concepts}
}

// Names returns the vocabulary's concept names in output order.
func (c Config) Names() []string { return c.Vocabulary().Names() }

// Resolve validates r and returns the configuration the job runs with. It
// reads the image model's metadata and labels or concept embeddings (or the
// earlier run's outputs for a recount) through read, without ONNX Runtime,
// to resolve preprocessing and list the concepts the tagger does not know.
// The state directory is not touched: WithState does that, once the
// launcher knows the run is not a dry run.
func (r Request) Resolve(ctx context.Context, read paths.ReadFunc) (Config, error) {
	v := r.Vocabulary
	if v == nil || len(v.Concepts) == 0 {
		return Config{}, fmt.Errorf("count: the vocabulary has no concepts")
	}
	if r.Output == "" {
		return Config{}, fmt.Errorf("count: no output location")
	}
	c := Config{Inputs: r.Inputs, Output: r.Output, Concepts: v.Concepts, VocabularySource: v.Source, VocabularyHash: v.Hash(),
		SharedKeys: v.SharedKeys, Rule: r.Rule, POS: r.POS, CaptionExt: r.CaptionExt, CaptionColumn: r.CaptionColumn,
		EmitSamples: r.EmitSamples, MaxRejectFraction: r.MaxRejectFraction, Version: r.Version}
	for _, d := range v.Dropped {
		c.DroppedLines = append(c.DroppedLines, d.String())
	}
	if c.Rule == caption.Study {
		if c.POS == caption.POSNouns {
			return Config{}, fmt.Errorf("count: the study rule keeps nouns itself; the noun filter does not combine with it")
		}
		if r.Image.Enabled() || c.EmitSamples {
			return Config{}, fmt.Errorf("count: the study rule counts captions only for now: it does not combine with image tagging or per-sample rows")
		}
		lem, err := caption.English()
		if err != nil {
			return Config{}, err
		}
		if err := caption.CheckStudyVocabulary(c.Vocabulary(), lem); err != nil {
			return Config{}, err
		}
	}
	ic, err := r.Image.Resolve(ctx, c.Vocabulary(), read)
	if err != nil {
		return Config{}, err
	}
	c.Image = ic
	return c, nil
}

// RunConfig is what run_stats.json records about the configuration.
type RunConfig struct {
	Inputs           []string         `json:"inputs"`
	Files            int              `json:"files"`
	VocabularySource string           `json:"vocabulary"`
	VocabularySize   int              `json:"vocabulary_size"`
	VocabularyHash   string           `json:"vocabulary_sha256"`
	SharedKeys       [][]string       `json:"shared_match_keys"`
	DroppedLines     []string         `json:"dropped_vocabulary_lines,omitempty"`
	Match            string           `json:"match"`
	POS              string           `json:"pos"`
	Lemmatizer       string           `json:"lemmatizer"`
	CaptionExt       string           `json:"caption_ext"`
	CaptionColumn    string           `json:"caption_column"`
	Runner           string           `json:"runner"`
	EmitSamples      bool             `json:"emit_samples"`
	PartialsDir      string           `json:"state,omitempty"` // --state: the fingerprint folder of the partials
	Image            *imagetag.Record `json:"image,omitempty"`
	// MaxRejectFraction is the reject limit the run's status is judged by.
	MaxRejectFraction float64 `json:"max_reject_fraction"`
}

// Record is what run_stats.json says about a run of c on the named runner.
// Its Files, the number of input files, is filled in when the run ends.
func (c Config) Record(runner string) RunConfig {
	rc := RunConfig{
		Inputs:            c.Inputs,
		VocabularySource:  c.VocabularySource,
		VocabularySize:    len(c.Concepts),
		VocabularyHash:    c.VocabularyHash,
		SharedKeys:        c.SharedKeys,
		DroppedLines:      c.DroppedLines,
		Match:             string(c.Rule),
		POS:               string(c.POS),
		Lemmatizer:        caption.LemmatizerName,
		CaptionExt:        c.CaptionExt,
		CaptionColumn:     c.CaptionColumn,
		Runner:            runner,
		EmitSamples:       c.EmitSamples,
		PartialsDir:       c.PartialsDir,
		MaxRejectFraction: 1,
	}
	if c.MaxRejectFraction != nil {
		rc.MaxRejectFraction = *c.MaxRejectFraction
	}
	rc.Image = c.Image.Record()
	return rc
}

// ReadRunStats reads run_stats.json back from a finished run's output
// directory.
func ReadRunStats(ctx context.Context, dir string, read paths.ReadFunc) (*RunStats, error) {
	path := paths.Join(dir, tables.RunStatsFile)
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
