package preprocess

import (
	"encoding/json"
	"flag"
	"fmt"
	"slices"
	"strconv"
)

// Model kinds, for the preprocessing defaults (Defaults): a multi-label
// tagger (RAM++-style) or a CLIP-style image encoder (the embedding tagger
// of the count job, embed --images and eval).
const (
	KindTagger  = "tagger"
	KindEncoder = "encoder"
)

// Defaults are the input options a model of kind gets when neither its
// metadata nor the user say otherwise: RAM++'s for a tagger, CLIP's for an
// image encoder. Every command resolves an image encoder's input the same
// way, so embeddings of one image made by two commands are the same.
func Defaults(kind string) Options {
	if kind == KindEncoder {
		return CLIPOptions()
	}
	return DefaultOptions()
}

// Flags are the image preprocessing flags, declared once (Register) for
// every command that feeds images to a model; the zero value of a field
// keeps what the model's metadata, else Defaults, says.
type Flags struct {
	InputSize    int
	Resize       string
	Mean, Std    string
	Decoder      string
	ShrinkOnLoad bool
	MaxPixels    int64
}

// DefaultFlags are the flags' defaults.
func DefaultFlags() Flags {
	return Flags{Decoder: DecoderAuto, ShrinkOnLoad: true, MaxPixels: DefaultMaxPixels}
}

// FlagNames are the flags Register declares, for --help groups.
var FlagNames = []string{"input_size", "resize", "mean", "std", "decoder", "shrink_on_load", "max_pixels"}

// Register declares the image preprocessing flags on fs, bound to f, with
// DefaultFlags as their defaults.
func (f *Flags) Register(fs *flag.FlagSet) {
	d := DefaultFlags()
	fs.IntVar(&f.InputSize, "input_size", 0, "model input size in pixels (default: the model's conceptfreq.input_size metadata, else 384 for a multilabel tagger, 224 for a CLIP-style image encoder)")
	fs.StringVar(&f.Resize, "resize", "", "squash (the study's Resize((s,s))) or crop (shorter side + centre crop, CLIP's); default: metadata, else squash for a multilabel tagger, crop for an image encoder")
	fs.StringVar(&f.Mean, "mean", "", "normalisation mean, comma-separated (default: metadata, else ImageNet's 0.485,0.456,0.406 for a tagger, CLIP's 0.48145466,0.4578275,0.40821073 for an encoder)")
	fs.StringVar(&f.Std, "std", "", "normalisation std, comma-separated (default: metadata, else ImageNet's 0.229,0.224,0.225 for a tagger, CLIP's 0.26862954,0.26130258,0.27577711 for an encoder)")
	fs.StringVar(&f.Decoder, "decoder", d.Decoder, "image decoder: native (libjpeg-turbo for JPEGs, dlopened: Debian libturbojpeg0), go (Go's decoders), or auto (native where it loads, else go)")
	fs.BoolVar(&f.ShrinkOnLoad, "shrink_on_load", d.ShrinkOnLoad, "let the native decoder scale large JPEGs by 1/2, 1/4 or 1/8 while decoding (DCT domain), never below the model's input size; false decodes at full size")
	fs.Int64Var(&f.MaxPixels, "max_pixels", d.MaxPixels, "images whose header declares more pixels are rejected undecoded")
}

// Overrides are the flags' input settings (empty: keep).
func (f Flags) Overrides() Overrides {
	size := ""
	if f.InputSize > 0 {
		size = strconv.Itoa(f.InputSize)
	}
	return Overrides{Size: size, Resize: f.Resize, Mean: f.Mean, Std: f.Std}
}

// Options resolves the input options of a model of kind: Defaults(kind),
// then the model's metadata overrides, then the flags.
func (f Flags) Options(kind string, metadata Overrides) (Options, error) {
	o, err := Defaults(kind).With(metadata)
	if err != nil {
		return o, fmt.Errorf("model metadata: %w", err)
	}
	if o, err = o.With(f.Overrides()); err != nil {
		return o, fmt.Errorf("--input_size/--resize/--mean/--std: %w", err)
	}
	return o, nil
}

// Decoding resolves the decoder flags on this machine.
func (f Flags) Decoding() (Decoding, error) {
	d, err := ResolveDecoding(f.Decoder, f.ShrinkOnLoad, f.MaxPixels)
	if err != nil {
		return d, fmt.Errorf("--decoder=%s: %w", f.Decoder, err)
	}
	return d, nil
}

// Spec is an image preprocessing as resolved: what a model was fed. It is
// recorded beside every embedding a command writes (Parquet key-value
// metadata, docs/outputs.md) and compared before embeddings of two
// commands meet.
type Spec struct {
	InputSize    int        `json:"input_size"`
	Resize       string     `json:"resize"`
	Mean         [3]float32 `json:"mean"`
	Std          [3]float32 `json:"std"`
	Decoder      string     `json:"decoder"` // native or go
	ShrinkOnLoad bool       `json:"shrink_on_load"`
}

// NewSpec is the spec of options o decoded by d.
func NewSpec(o Options, d Decoding) Spec {
	dec := DecoderGo
	if d.Native {
		dec = DecoderNative
	}
	return Spec{InputSize: o.Size, Resize: o.Resize, Mean: o.Mean, Std: o.Std, Decoder: dec, ShrinkOnLoad: d.ShrinkOnLoad}
}

// String is the spec as JSON, the form it is recorded in.
func (s Spec) String() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// ParseSpec reads a recorded spec.
func ParseSpec(text string) (Spec, error) {
	var s Spec
	if err := json.Unmarshal([]byte(text), &s); err != nil {
		return s, fmt.Errorf("preprocess: image spec %q: %v", text, err)
	}
	return s, nil
}

// Diff lists how s differs from t ("resize crop ≠ squash"), empty when
// they feed a model the same tensors.
func (s Spec) Diff(t Spec) []string {
	var out []string
	add := func(name string, a, b any) { out = append(out, fmt.Sprintf("%s %v ≠ %v", name, a, b)) }
	if s.InputSize != t.InputSize {
		add("input_size", s.InputSize, t.InputSize)
	}
	if s.Resize != t.Resize {
		add("resize", s.Resize, t.Resize)
	}
	if !slices.Equal(s.Mean[:], t.Mean[:]) {
		add("mean", s.Mean, t.Mean)
	}
	if !slices.Equal(s.Std[:], t.Std[:]) {
		add("std", s.Std, t.Std)
	}
	if s.Decoder != t.Decoder {
		add("decoder", s.Decoder, t.Decoder)
	}
	if s.ShrinkOnLoad != t.ShrinkOnLoad {
		add("shrink_on_load", s.ShrinkOnLoad, t.ShrinkOnLoad)
	}
	return out
}
