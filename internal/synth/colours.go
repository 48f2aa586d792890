package synth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/conceptfreq/conceptfreq/io/wds"
	"github.com/conceptfreq/conceptfreq/models/onnxbuild"
)

// ColourClasses are the classes of the planted colour evaluation set, in
// class-index order. No image is purple: that class has no performance
// row.
var ColourClasses = []string{"red", "green", "blue", "purple"}

// EvalTruth is what a zero-shot evaluation of the colour set must give
// with the planted colour "CLIP" (testdata/models/colour_embedder.onnx and
// colour_text.onnx): per class, the images labelled with it and how many
// of them show that colour (the top-1 hits).
type EvalTruth struct {
	Images  map[string]int64 // labelled images per class
	Correct map[string]int64 // of those, images of the class's colour
	Rejects map[string]int64 // reason → samples
	Samples int64
}

var solid = map[string]color.RGBA{"red": {255, 0, 0, 255}, "green": {0, 255, 0, 255}, "blue": {0, 0, 255, 255}}

func solidPNG(c color.RGBA) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

// ColourEval writes the planted colour evaluation set into dir: two shards
// (a tar and a tar.gz) of solid-colour PNGs whose labels come as a cls
// index, a txt class name or a json label, some deliberately wrong (label
// noise) and a few unusable samples, and classes.txt. It returns the truth.
func ColourEval(dir string) (*EvalTruth, error) {
	tr := &EvalTruth{Images: map[string]int64{}, Correct: map[string]int64{}, Rejects: map[string]int64{}}
	// (shown colour, label) per sample; label noise: red-labelled blue
	// images, a blue-labelled green one.
	type s struct{ shows, label string }
	plan := [][]s{
		{{"red", "red"}, {"red", "red"}, {"blue", "red"}, {"green", "green"}, {"green", "green"}, {"blue", "blue"},
			{"red", "red"}, {"blue", "red"}, {"green", "blue"}},
		{{"red", "red"}, {"red", "red"}, {"green", "green"}, {"green", "green"}, {"blue", "blue"}, {"blue", "blue"}},
	}
	key := 0
	for sh, samples := range plan {
		var b bytes.Buffer
		w := wds.NewWriter(&b, sh == 1)
		for i, smp := range samples {
			members := map[string][]byte{"png": solidPNG(solid[smp.shows])}
			idx := indexOf(ColourClasses, smp.label)
			switch i % 3 { // the three label forms
			case 0:
				members["cls"] = []byte(fmt.Sprint(idx))
			case 1:
				members["txt"] = []byte(strings.ToUpper(smp.label[:1]) + smp.label[1:])
			case 2:
				members["json"] = []byte(fmt.Sprintf(`{"label": %q, "url": "x"}`, smp.label))
			}
			if err := w.WriteSample(fmt.Sprintf("%06d", key), members); err != nil {
				return nil, err
			}
			key++
			tr.Samples++
			tr.Images[smp.label]++
			if smp.shows == smp.label {
				tr.Correct[smp.label]++
			}
		}
		if sh == 0 { // unusable samples
			bad := []struct {
				members map[string][]byte
				reason  string
			}{
				{map[string][]byte{"png": solidPNG(solid["red"])}, "no_label"},
				{map[string][]byte{"png": solidPNG(solid["red"]), "cls": []byte("9")}, "bad_label"},
				{map[string][]byte{"png": solidPNG(solid["red"]), "txt": []byte("orange")}, "bad_label"},
				{map[string][]byte{"cls": []byte("0")}, "image_missing"},
				{map[string][]byte{"png": []byte("\x89PNG\r\n\x1a\nbroken"), "cls": []byte("0")}, "image_decode_failed"},
			}
			for _, bs := range bad {
				if err := w.WriteSample(fmt.Sprintf("%06d", key), bs.members); err != nil {
					return nil, err
				}
				key++
				tr.Samples++
				tr.Rejects[bs.reason]++
			}
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		name := "colours-00000.tar"
		if sh == 1 {
			name = "colours-00001.tar.gz"
		}
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			return nil, err
		}
	}
	classes := "# planted colour evaluation set: class names in cls-index order\n" + strings.Join(ColourClasses, "\n") + "\n"
	return tr, os.WriteFile(filepath.Join(dir, "classes.txt"), []byte(classes), 0o644)
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// LawTruth is what the planted crawl-to-law set must give: per class, the
// crawl samples that show it and say it (its matched, text and image
// count) and its planted zero-shot accuracy in percent.
type LawTruth struct {
	Classes  []string
	Count    map[string]int64
	Accuracy map[string]float64
	Samples  int64
	// Copies are, per class, the crawl samples whose image is an exact
	// copy of the class's evaluation images (the pure colour): the
	// near-duplicates similarity control finds; the others show the
	// class's LawShade.
	Copies map[string]int64
}

// LawCopyEvery: every LawCopyEvery-th crawl sample of a class (its first,
// fourth, …) shows the pure class colour, a copy of the evaluation images
// of that colour; the others show its LawShade.
const LawCopyEvery = 3

// LawShades are, per planted colour, a shade that the planted colour CLIP
// still tags as that colour (cosine ≈ 0.878 with it, above the count job's
// 0.7) but that is no near-duplicate of any pure planted colour (cosine
// ≤ 0.878 with every one, below the default --near_threshold 0.95):
// chosen by a search over the directions at that angle from the colour,
// and checked by TestLawShades.
var LawShades = map[string][3]uint8{
	"red": {255, 66, 96}, "green": {74, 255, 91}, "blue": {78, 88, 255}, "purple": {255, 66, 159},
	"yellow": {177, 255, 88}, "turquoise": {96, 255, 189}, "orange": {255, 154, 85}, "pink": {174, 163, 255},
	"lime": {97, 255, 83}, "teal": {0, 191, 99}, "navy": {81, 0, 163}, "maroon": {71, 0, 65},
	"olive": {61, 111, 0}, "violet": {97, 83, 255},
}

// LawImagesPerClass is how many evaluation images each class of the
// crawl-to-law set has.
const LawImagesPerClass = 20

// ColourLaw writes a planted set for the whole chain (count → eval → fit)
// with the planted colour "CLIP": dir/crawl/*.tar, a crawl in which class i
// of the planted colours is shown and named by round(10^(3.5·i/(K−1)))
// samples (1 to 3,162: several frequency decades; every LawCopyEvery-th a
// copy of the class's evaluation images, the others its LawShade), dir/eval/*.tar, an
// evaluation set of LawImagesPerClass images per class of which a number
// rising linearly with the class's log frequency show its colour (the
// others another class's), and dir/classes.txt. Fitted against the crawl's
// matched counts, accuracy rises 20 points per decade by construction.
func ColourLaw(dir string) (*LawTruth, error) {
	names := make([]string, 0, len(onnxbuild.PlantedColours))
	for n := range onnxbuild.PlantedColours {
		names = append(names, n)
	}
	sort.Strings(names)
	tr := &LawTruth{Classes: names, Count: map[string]int64{}, Accuracy: map[string]float64{}, Copies: map[string]int64{}}
	for _, sub := range []string{"crawl", "eval"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, err
		}
	}
	rgb := func(n string) color.RGBA {
		c := onnxbuild.PlantedColours[n]
		return color.RGBA{c[0], c[1], c[2], 255}
	}
	// Crawl: the classes' samples interleaved, 1,000 a shard.
	k := len(names)
	var plan []string
	for i, n := range names {
		c := int64(math.Round(math.Pow(10, 3.5*float64(i)/float64(k-1))))
		tr.Count[n] = c
		for j := int64(0); j < c; j++ {
			plan = append(plan, n)
		}
	}
	rng := rand.New(rand.NewPCG(3, 5))
	rng.Shuffle(len(plan), func(i, j int) { plan[i], plan[j] = plan[j], plan[i] })
	pngs, shades := map[string][]byte{}, map[string][]byte{}
	for _, n := range names {
		pngs[n] = solidPNG(rgb(n))
		sh := LawShades[n]
		shades[n] = solidPNG(color.RGBA{sh[0], sh[1], sh[2], 255})
	}
	seen := map[string]int64{}
	for start := 0; start < len(plan); start += 1000 {
		var b bytes.Buffer
		w := wds.NewWriter(&b, false)
		for i, n := range plan[start:min(start+1000, len(plan))] {
			text := fmt.Sprintf("a photo of a %s thing", n)
			img := shades[n]
			if seen[n]%LawCopyEvery == 0 {
				img = pngs[n]
				tr.Copies[n]++
			}
			seen[n]++
			if err := w.WriteSample(fmt.Sprintf("%09d", start+i), map[string][]byte{"txt": []byte(text), "png": img}); err != nil {
				return nil, err
			}
			tr.Samples++
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, "crawl", fmt.Sprintf("%05d.tar", start/1000)), b.Bytes(), 0o644); err != nil {
			return nil, err
		}
	}
	// Evaluation set: class i's correct images rise with log10 of its count.
	var b bytes.Buffer
	w := wds.NewWriter(&b, false)
	key := 0
	for i, n := range names {
		correct := int(math.Round(2 + 4*math.Log10(float64(tr.Count[n])))) // 2 … 16 of 20
		tr.Accuracy[n] = 100 * float64(correct) / LawImagesPerClass
		for j := 0; j < LawImagesPerClass; j++ {
			shows := n
			if j >= correct {
				shows = names[(i+1+j%(k-1))%k] // another class's colour
			}
			if err := w.WriteSample(fmt.Sprintf("%06d", key), map[string][]byte{"png": pngs[shows], "txt": []byte(n)}); err != nil {
				return nil, err
			}
			key++
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "eval", "00000.tar"), b.Bytes(), 0o644); err != nil {
		return nil, err
	}
	classes := "# planted crawl-to-law set: the planted colour CLIP's colour words\n" + strings.Join(names, "\n") + "\n"
	return tr, os.WriteFile(filepath.Join(dir, "classes.txt"), []byte(classes), 0o644)
}

// ColourTagging writes the bundled image-tagging demo into dir: one shard
// of n solid-colour PNGs (red, green, blue, white, in turn) whose captions
// name the colour shown, another colour, or none, and vocabulary.txt (red,
// green, blue, orange). With testdata/models/colour_tagger.onnx the red,
// green and blue images are tagged, white ones get no tag, and orange is a
// concept the tagger does not know.
func ColourTagging(dir string, n int) error {
	shows := []string{"red", "green", "blue", "white"}
	colours := map[string]color.RGBA{"red": {255, 0, 0, 255}, "green": {0, 255, 0, 255}, "blue": {0, 0, 255, 255}, "white": {255, 255, 255, 255}}
	var b bytes.Buffer
	w := wds.NewWriter(&b, false)
	for i := 0; i < n; i++ {
		c := shows[i%len(shows)]
		var text string
		switch i % 5 {
		case 0, 1:
			text = "a " + c + " square"
		case 2:
			text = "a " + shows[(i/len(shows)+1)%3] + " square" // the caption names another colour
		case 3:
			text = "an orange and " + c + " poster"
		default:
			text = "a square"
		}
		if err := w.WriteSample(fmt.Sprintf("%06d", i), map[string][]byte{"png": solidPNG(colours[c]), "txt": []byte(text)}); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "colours-00000.tar"), b.Bytes(), 0o644); err != nil {
		return err
	}
	vocab := "# the bundled tagging demo's vocabulary: the colour tagger knows red, green and blue, not orange\nred\ngreen\nblue\norange\n"
	return os.WriteFile(filepath.Join(dir, "vocabulary.txt"), []byte(vocab), 0o644)
}

// RetrievalSample is one image of the planted retrieval set: the colour it
// shows and its captions (each naming one colour word of the planted
// "CLIP", which decides where it ranks).
type RetrievalSample struct {
	Shows    string
	RGB      [3]uint8
	Captions []string
}

// RetrievalPlan is the planted retrieval set, in the test set's order. Six
// images on corners of the colour cube and an orange one; every caption
// names its image's colour but two: Y's "navy cup" (navy is nearest to
// no image and farthest from yellow: its image ranks last, 7th) and the
// orange image's only caption, "teal kite" (teal is farther from orange
// than from any other image: last again; and for the orange image six
// captions are nearer than its own). Every other query ranks its answer
// first. The cosines that decide these ranks differ by at least 0.1, far
// more than the planted text encoder's token noise.
var RetrievalPlan = []RetrievalSample{
	{"red", [3]uint8{255, 0, 0}, []string{"a red box", "a red kite"}},
	{"green", [3]uint8{0, 255, 0}, []string{"a green box"}},
	{"blue", [3]uint8{0, 0, 255}, []string{"a blue ball"}},
	{"yellow", [3]uint8{255, 255, 0}, []string{"a yellow ball", "a navy cup"}},
	{"turquoise", [3]uint8{0, 255, 255}, []string{"a turquoise kite"}},
	{"purple", [3]uint8{255, 0, 255}, []string{"a purple cup"}},
	{"orange", [3]uint8{255, 128, 0}, []string{"a teal kite"}},
}

// ColourRetrieval writes the planted retrieval set into dir: one tar shard
// of solid-colour PNGs with their captions (a txt of caption lines, but
// for one sample a json captions list), and one sample without captions
// (a no_caption reject).
func ColourRetrieval(dir string) error {
	var b bytes.Buffer
	w := wds.NewWriter(&b, false)
	for i, s := range RetrievalPlan {
		m := map[string][]byte{"png": solidPNG(color.RGBA{s.RGB[0], s.RGB[1], s.RGB[2], 255})}
		if i == 2 {
			j, _ := json.Marshal(map[string]any{"captions": s.Captions})
			m["json"] = j
		} else {
			m["txt"] = []byte(strings.Join(s.Captions, "\n") + "\n")
		}
		if err := w.WriteSample(fmt.Sprintf("%06d", i), m); err != nil {
			return err
		}
	}
	if err := w.WriteSample("999999", map[string][]byte{"png": solidPNG(color.RGBA{9, 9, 9, 255})}); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "retrieval-00000.tar"), b.Bytes(), 0o644)
}
