// Package synth writes synthetic img2dataset-style WebDataset shards with a
// planted ground truth: captions mention vocabulary concepts drawn from a
// Zipf (long-tailed) distribution, so the true per-concept text counts are
// known by construction. It can also wrap real captions (e.g. LAION rows)
// and real photos into shards, for realistic inputs without a truth.
package synth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/conceptfreq/conceptfreq/io/wds"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
)

// Fillers are the non-concept words planted captions are padded with. Concepts
// whose lemma equals a filler's lemma are never planted.
var Fillers = []string{"a", "the", "of", "with", "in", "on", "and", "photo", "picture", "view",
	"beautiful", "old", "new", "near", "under", "at", "very", "nice", "from", "this", "my", "our"}

// Config describes a synthetic dataset.
type Config struct {
	Dir             string
	Shards          int
	SamplesPerShard int
	Seed            uint64
	Gzip            bool
	// Zipf exponent s of the concept distribution: concept of rank r is
	// drawn with probability ∝ 1/r^s. Default 1.1.
	ZipfS float64
	// Concepts to plant (planted mode). Use PlantableConcepts to pick them.
	Concepts []string
	// MaxPerCaption is the largest number of distinct concepts planted in
	// one caption (uniform in 0..MaxPerCaption). Default 3.
	MaxPerCaption int
	// Captions switches to real-caption mode: the captions are used in turn
	// and no truth is recorded.
	Captions []string
	// Images are JPEG bytes used in turn for the .jpg members; when empty a
	// small solid-colour JPEG is made per sample.
	Images [][]byte
	// BadEvery plants a sample with no caption, an empty caption or invalid
	// UTF-8 (in rotation) every BadEvery samples; 0 plants none.
	BadEvery int
}

// Truth is the planted ground truth, written as truth.json.
type Truth struct {
	Samples            int64            `json:"samples"`
	Shards             int              `json:"shards"`
	TextCounts         map[string]int64 `json:"text_counts"`
	Rejects            map[string]int64 `json:"rejects"`
	SamplesWithConcept int64            `json:"samples_with_concept"`
	Concepts           []string         `json:"concepts"`
}

// PlantableConcepts returns up to n single-word concepts of v whose word is
// its own lemma, is no filler's lemma and is unique, so that planting the
// word mentions exactly that concept.
func PlantableConcepts(v *caption.Vocabulary, lem *caption.Lemmatizer, n int) []string {
	banned := map[string]bool{}
	for _, f := range Fillers {
		banned[lem.Lemma(f)] = true
	}
	// Lemmas used by multi-word concepts could create extra matches.
	multi := map[string]bool{}
	for _, c := range v.Concepts {
		if ls := lem.Lemmas(c.Name); len(ls) > 1 {
			for _, l := range ls {
				multi[l] = true
			}
		}
	}
	seen := map[string]bool{}
	var out []string
	for _, c := range v.Concepts {
		toks := caption.Tokenize(c.Name)
		if len(toks) != 1 || len(c.Aliases) > 0 {
			continue
		}
		w := toks[0]
		l := lem.Lemma(w)
		if l != w || c.Name != w || banned[l] || multi[l] || seen[l] || len(w) < 3 {
			continue
		}
		seen[l] = true
		out = append(out, w)
		if len(out) == n {
			break
		}
	}
	return out
}

// Generate writes the shards (NNNNN.tar or .tar.gz, 9-digit sample keys as
// img2dataset names them) into cfg.Dir, plus truth.json and, in planted
// mode, vocabulary.txt. It returns the truth.
func Generate(cfg Config) (*Truth, error) {
	if cfg.Shards <= 0 || cfg.SamplesPerShard <= 0 {
		return nil, fmt.Errorf("synth: need shards > 0 and samples per shard > 0")
	}
	if len(cfg.Captions) == 0 && len(cfg.Concepts) == 0 {
		return nil, fmt.Errorf("synth: need concepts to plant or real captions")
	}
	if cfg.ZipfS == 0 {
		cfg.ZipfS = 1.1
	}
	if cfg.MaxPerCaption == 0 {
		cfg.MaxPerCaption = 3
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	truth := &Truth{Shards: cfg.Shards, TextCounts: map[string]int64{}, Rejects: map[string]int64{}, Concepts: cfg.Concepts}
	for _, c := range cfg.Concepts {
		truth.TextCounts[c] = 0
	}
	cdf := zipfCDF(len(cfg.Concepts), cfg.ZipfS)
	key := 0
	for sh := 0; sh < cfg.Shards; sh++ {
		name := fmt.Sprintf("%05d.tar", sh)
		if cfg.Gzip {
			name += ".gz"
		}
		if err := writeShard(filepath.Join(cfg.Dir, name), cfg, rng, cdf, truth, &key); err != nil {
			return nil, err
		}
	}
	if len(cfg.Captions) > 0 {
		truth.TextCounts = nil
	} else {
		var b strings.Builder
		b.WriteString("# planted concepts of a synthetic dataset (io/synth)\n")
		for _, c := range cfg.Concepts {
			b.WriteString(c + "\n")
		}
		if err := os.WriteFile(filepath.Join(cfg.Dir, "vocabulary.txt"), []byte(b.String()), 0o644); err != nil {
			return nil, fmt.Errorf("synth: %w", err)
		}
	}
	js, _ := json.MarshalIndent(truth, "", "  ")
	if err := os.WriteFile(filepath.Join(cfg.Dir, "truth.json"), js, 0o644); err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	return truth, nil
}

func writeShard(path string, cfg Config, rng *rand.Rand, cdf []float64, truth *Truth, key *int) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("synth: %s: %w", path, cerr)
		}
	}()
	w := wds.NewWriter(f, cfg.Gzip)
	for i := 0; i < cfg.SamplesPerShard; i++ {
		k := fmt.Sprintf("%09d", *key)
		*key++
		truth.Samples++
		var text string
		if len(cfg.Captions) > 0 {
			text = cfg.Captions[(*key-1)%len(cfg.Captions)]
		} else {
			text = plantCaption(rng, cfg, cdf, truth)
		}
		img := pickImage(cfg, *key-1)
		meta := map[string]any{"url": "https://example.invalid/" + k + ".jpg", "key": k, "status": "success",
			"error_message": nil, "width": 8, "height": 8, "original_width": 8, "original_height": 8, "caption": text}
		members := map[string][]byte{"jpg": img}
		if cfg.BadEvery > 0 && (*key)%cfg.BadEvery == 0 {
			switch (*key / cfg.BadEvery) % 3 {
			case 0: // no caption anywhere
				delete(meta, "caption")
				truth.Rejects["no_caption"]++
			case 1:
				members["txt"] = []byte("  \n")
				meta["caption"] = ""
				truth.Rejects["empty_caption"]++
			case 2:
				members["txt"] = []byte("caf\xe9 \xff")
				truth.Rejects["invalid_utf8"]++
			}
			if len(cfg.Captions) == 0 {
				undoPlant(text, truth)
			}
		} else {
			members["txt"] = []byte(text)
		}
		js, _ := json.Marshal(meta)
		members["json"] = js
		if err := w.WriteSample(k, members); err != nil {
			return fmt.Errorf("synth: %s: %w", path, err)
		}
	}
	return w.Close()
}

// plantCaption draws distinct concepts and pads them with fillers; it
// records the drawn concepts in truth.
func plantCaption(rng *rand.Rand, cfg Config, cdf []float64, truth *Truth) string {
	n := rng.IntN(cfg.MaxPerCaption + 1)
	chosen := map[int]bool{}
	for len(chosen) < n {
		chosen[sort.SearchFloat64s(cdf, rng.Float64())] = true
	}
	words := []string{}
	for i := 0; i < 3+rng.IntN(5); i++ {
		words = append(words, Fillers[rng.IntN(len(Fillers))])
	}
	for c := range chosen {
		w := cfg.Concepts[c]
		switch rng.IntN(3) { // vary case and punctuation around the word
		case 0:
			w = strings.ToUpper(w[:1]) + w[1:]
		case 1:
			w = w + ","
		}
		words = append(words, w)
		truth.TextCounts[cfg.Concepts[c]]++
	}
	if n > 0 {
		truth.SamplesWithConcept++
	}
	rng.Shuffle(len(words), func(i, j int) { words[i], words[j] = words[j], words[i] })
	return strings.Join(words, " ")
}

// undoPlant removes a caption's concepts from the truth when the sample is
// turned into a reject.
func undoPlant(text string, truth *Truth) {
	planted := false
	for _, w := range strings.Fields(text) {
		w = strings.ToLower(strings.TrimSuffix(w, ","))
		if _, ok := truth.TextCounts[w]; ok {
			truth.TextCounts[w]--
			planted = true
		}
	}
	if planted {
		truth.SamplesWithConcept--
	}
}

func zipfCDF(n int, s float64) []float64 {
	cdf := make([]float64, n)
	sum := 0.0
	for r := 1; r <= n; r++ {
		sum += 1 / math.Pow(float64(r), s)
		cdf[r-1] = sum
	}
	for i := range cdf {
		cdf[i] /= sum
	}
	return cdf
}

func pickImage(cfg Config, i int) []byte {
	if len(cfg.Images) > 0 {
		return cfg.Images[i%len(cfg.Images)]
	}
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	c := color.RGBA{uint8(i * 37), uint8(i * 91), uint8(i * 13), 255}
	for y := 0; y < 8; y++ {
		for x := 0; x < 8; x++ {
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	_ = jpeg.Encode(&b, img, &jpeg.Options{Quality: 90})
	return b.Bytes()
}
