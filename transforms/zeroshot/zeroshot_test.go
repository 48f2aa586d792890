package zeroshot_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"io"
	"testing"

	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/io/wds"
	"github.com/conceptfreq/conceptfreq/models/preprocess"
	"github.com/conceptfreq/conceptfreq/transforms/zeroshot"
)

func config() zeroshot.Config {
	unit := func(v ...float32) []float32 { return v }
	return zeroshot.Config{
		Classes: []string{"Red", "green", "blue"},
		Prompts: []string{"p"},
		// Class embeddings along the axes; the image "embedding" is the mean
		// normalised colour (fakeEncoder), so red images score (1,-1,-1).
		Embeddings: [][][]float32{{unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1)}},
		BatchSize:  2,
		TopK:       2,
		Preprocess: preprocess.Options{Size: 4, Resize: preprocess.Squash, Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.5, 0.5, 0.5}},
	}
}

// fakeEncoder averages each image's channels: a pure-Go stand-in for the
// colour embedder.
type fakeEncoder struct{ calls int }

func (f *fakeEncoder) Run(batch []float32, n, h, w int) ([]float32, int, error) {
	f.calls++
	out := make([]float32, n*3)
	for i := 0; i < n; i++ {
		for c := 0; c < 3; c++ {
			var s float32
			for _, v := range batch[(i*3+c)*h*w : (i*3+c+1)*h*w] {
				s += v
			}
			out[i*3+c] = s / float32(h*w)
		}
	}
	return out, 3, nil
}

func TestLabel(t *testing.T) {
	c, err := zeroshot.NewClassifier(config(), &fakeEncoder{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		members map[string][]byte
		class   int
		reason  string
	}{
		{map[string][]byte{"cls": []byte("2\n")}, 2, ""},
		{map[string][]byte{"cls": []byte("3")}, -1, zeroshot.RejectBadLabel},
		{map[string][]byte{"cls": []byte("-1")}, -1, zeroshot.RejectBadLabel},
		{map[string][]byte{"txt": []byte(" red ")}, 0, ""},
		{map[string][]byte{"txt": []byte("GREEN")}, 1, ""},
		{map[string][]byte{"txt": []byte("orange")}, -1, zeroshot.RejectBadLabel},
		{map[string][]byte{"json": []byte(`{"label": "blue"}`)}, 2, ""},
		{map[string][]byte{"json": []byte(`{"class": 1}`)}, 1, ""},
		{map[string][]byte{"json": []byte(`{"url": "x"}`)}, -1, zeroshot.RejectNoLabel},
		{map[string][]byte{"json": []byte(`{`)}, -1, zeroshot.RejectBadLabel},
		{map[string][]byte{"png": {1}}, -1, zeroshot.RejectNoLabel},
	} {
		class, reason, detail := c.Label(tc.members)
		if class != tc.class || reason != tc.reason || (reason != "" && detail == "") {
			t.Errorf("%q: got %d %q %q, want %d %q", tc.members, class, reason, detail, tc.class, tc.reason)
		}
	}
	if _, err := zeroshot.NewClassifier(zeroshot.Config{Classes: []string{"a"}, Prompts: []string{"p"}, Embeddings: [][][]float32{{}}}, nil); err == nil {
		t.Error("embeddings for 0 of 1 classes accepted")
	}
}

func pngOf(c color.RGBA) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, 255
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

// A shard through the classifier: hits by class, with partial batches
// flushed, and rejects listed.
func TestProcessShard(t *testing.T) {
	red, green, blue := pngOf(color.RGBA{R: 255}), pngOf(color.RGBA{G: 255}), pngOf(color.RGBA{B: 255})
	var b bytes.Buffer
	w := wds.NewWriter(&b, false)
	samples := []map[string][]byte{
		{"png": red, "cls": []byte("0")},
		{"png": blue, "cls": []byte("0")}, // wrong: blue image labelled red
		{"png": green, "txt": []byte("green")},
		{"png": blue, "cls": []byte("2")},
		{"png": red, "cls": []byte("7")}, // bad label
		{"cls": []byte("1")},             // no image
	}
	for i, m := range samples {
		if err := w.WriteSample(string(rune('a'+i)), m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	enc := &fakeEncoder{}
	c, err := zeroshot.NewClassifier(config(), enc)
	if err != nil {
		t.Fatal(err)
	}
	var rejects []tables.Reject
	open := func(context.Context, string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b.Bytes())), nil
	}
	st, err := c.ProcessShard(context.Background(), open, "s.tar", func(r tables.Reject) { rejects = append(rejects, r) })
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if st.SamplesRead != 6 || st.Evaluated != 4 || st.ShardsRead != 1 || len(rejects) != 2 ||
		st.Rejects[zeroshot.RejectBadLabel] != 1 || st.Rejects[zeroshot.RejectImageMissing] != 1 {
		t.Errorf("stats %+v, rejects %+v", st, rejects)
	}
	if enc.calls != 2 {
		t.Errorf("%d encoder calls for 4 images in batches of 2, want 2", enc.calls)
	}
	got := c.TakeScores()
	// The blue image labelled red ranks blue first; red and green tie at
	// -1/√3 and the tie goes to the lower index (red): a top-2 hit.
	want := map[string]zeroshot.Score{
		zeroshot.Key("p", "Red"):   {N: 2, Top1: 1, TopK: 2},
		zeroshot.Key("p", "green"): {N: 1, Top1: 1, TopK: 1},
		zeroshot.Key("p", "blue"):  {N: 1, Top1: 1, TopK: 1},
	}
	if len(got) != len(want) {
		t.Errorf("scores %v, want %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			p, c := zeroshot.SplitKey(k)
			t.Errorf("%s/%s: got %+v, want %+v", p, c, got[k], w)
		}
	}
	if len(c.TakeScores()) != 0 {
		t.Error("TakeScores does not reset")
	}
}
