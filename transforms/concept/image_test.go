package concept_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"strings"
	"testing"

	"github.com/conceptfreq/conceptfreq/io/reject"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/io/wds"
	"github.com/conceptfreq/conceptfreq/models/preprocess"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
	"github.com/conceptfreq/conceptfreq/transforms/concept"
	"github.com/conceptfreq/conceptfreq/transforms/imagetag"
)

// redTagger scores concept 0 ("red") by the image's mean first channel:
// a red image scores about 1, a blue one about 0.
type redTagger struct {
	o     preprocess.Options
	calls int
	panic bool
}

func (t *redTagger) Options() preprocess.Options { return t.o }

func (t *redTagger) Tag(batch []float32, n int, scores [][]float64) error {
	if t.panic {
		panic("tagger bug")
	}
	t.calls++
	plane := t.o.Size * t.o.Size
	for i := 0; i < n; i++ {
		var sum float64
		for _, v := range batch[i*3*plane : i*3*plane+plane] {
			sum += float64(v)
		}
		scores[i][0] = sum / float64(plane) // mean std 1, mean 0: in [0,1]
		scores[i][1] = 0
	}
	return nil
}

func solid(t *testing.T, c color.RGBA) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 16, 12))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, 255
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Images decoded on other goroutines and tagged a batch behind: every
// sample of each shard is tallied into that shard's counts before
// ProcessShard returns, rejects name their own shard, and a panicking
// tagger fails the shard instead of the process.
func TestPipelinedTagging(t *testing.T) {
	red, blue := solid(t, color.RGBA{255, 0, 0, 255}), solid(t, color.RGBA{0, 0, 255, 255})
	shards := map[string][]byte{}
	for s, name := range []string{"a.tar", "b.tar"} {
		var b bytes.Buffer
		w := wds.NewWriter(&b, false)
		for i := 0; i < 7; i++ {
			img := blue
			if i%2 == 0 {
				img = red
			}
			w.WriteSample(fmt.Sprintf("%d%02d", s, i), map[string][]byte{"txt": []byte("a red thing"), "jpg": img})
		}
		w.WriteSample(fmt.Sprintf("%dbroken", s), map[string][]byte{"txt": []byte("red"), "jpg": red[:40]})
		w.WriteSample(fmt.Sprintf("%dnoimage", s), map[string][]byte{"txt": []byte("red")})
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		shards[name] = b.Bytes()
	}
	lem, _ := caption.English()
	v, _ := caption.ParseVocabulary(strings.NewReader("red\nblue\n"), "v", lem)
	m, _ := caption.NewMatcher(v, lem, caption.AllWords, caption.POSNone)
	open := func(ctx context.Context, path string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(shards[path])), nil
	}
	o := preprocess.Options{Size: 8, Resize: preprocess.Squash, Mean: [3]float32{0, 0, 0}, Std: [3]float32{1, 1, 1}}
	for _, native := range []bool{false, true} {
		if native && preprocess.NativeError() != nil {
			continue
		}
		tagger := &redTagger{o: o}
		p := &concept.Processor{Rule: concept.MatcherRule(m), Names: v.Names(), Image: &imagetag.Side{Tagger: tagger, Known: []bool{true, true},
			Threshold: 0.5, BatchSize: 3, Decoding: preprocess.Decoding{Native: native}}}
		var rejects []tables.Reject
		em := concept.Emitters{Reject: func(r tables.Reject) { rejects = append(rejects, r) },
			Score: func(tables.ScoreRow) {}, Sample: func(tables.SampleRow) {}}
		var tagged int64
		for _, name := range []string{"a.tar", "b.tar"} {
			counts := concept.NewCounts(2)
			st, err := p.ProcessShard(context.Background(), open, name, counts, em)
			if err != nil {
				t.Fatal(err)
			}
			tagged += st.ImagesTagged
			if got := counts.Get(0).Text; got != 9 {
				t.Errorf("native=%v %s: red in %d captions, want 9", native, name, got)
			}
		}
		st, err := p.Flush(concept.NewCounts(2), em)
		if err != nil {
			t.Fatal(err)
		}
		// The broken image of a.tar sits in a batch that fills into b.tar
		// and is rejected when that batch is flushed: under its own shard.
		if tagged += st.ImagesTagged; tagged != 14 || len(rejects) != 4 {
			t.Errorf("native=%v: %d tagged, rejects %+v; want 14 and 4", native, tagged, rejects)
		}
		for _, r := range rejects {
			want := map[byte]string{'0': "a.tar", '1': "b.tar"}[r.Key[0]]
			if r.Shard != want || (r.Reason != reject.ImageDecode && r.Reason != reject.ImageMissing) {
				t.Errorf("native=%v: reject %+v (want shard %s)", native, r, want)
			}
		}
	}

	// All 14 images: red ones (i even: 4 a shard) in the image, blue not.
	tagger := &redTagger{o: o}
	p := &concept.Processor{Rule: concept.MatcherRule(m), Names: v.Names(), Image: &imagetag.Side{Tagger: tagger, Known: []bool{true, true},
		Threshold: 0.5, BatchSize: 3}}
	total := concept.NewCounts(2)
	var tagged int64
	em := concept.Emitters{Reject: func(tables.Reject) {}, Score: func(tables.ScoreRow) {}, Sample: func(tables.SampleRow) {}}
	for _, name := range []string{"a.tar", "b.tar"} {
		st, err := p.ProcessShard(context.Background(), open, name, total, em)
		if err != nil {
			t.Fatal(err)
		}
		tagged += st.ImagesTagged
	}
	st, err := p.Flush(total, em)
	if err != nil {
		t.Fatal(err)
	}
	tagged += st.ImagesTagged
	if got := total.Get(0); tagged != 14 || got.Image != 8 || got.Matched != 8 {
		t.Errorf("tagged %d, red image %d matched %d; want 14, 8, 8", tagged, got.Image, got.Matched)
	}

	bad := &concept.Processor{Rule: concept.MatcherRule(m), Names: v.Names(), Image: &imagetag.Side{Tagger: &redTagger{o: o, panic: true},
		Known: []bool{true, true}, Threshold: 0.5, BatchSize: 2}}
	_, err = bad.ProcessShard(context.Background(), open, "a.tar", concept.NewCounts(2), em)
	if err == nil || !strings.Contains(err.Error(), "tagger panic") {
		t.Errorf("panicking tagger: got %v", err)
	}
}
