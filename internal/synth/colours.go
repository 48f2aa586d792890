package synth

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"

	"github.com/conceptfreq/conceptfreq/io/wds"
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
