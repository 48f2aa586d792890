package retrieval

import (
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jdkato/prose/v2"

	"github.com/conceptfreq/conceptfreq/internal/shareddata"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
)

// The concepts of 300 real LAION captions, read as a retrieval set of 100
// images with 3 captions each, against an independent count: prose's own
// tokenizer and tagger (not conceptfreq's re-implementation), tokens split
// into runs of letters and digits, a proper noun's letters, a common noun's
// lemma's letters.
func TestConceptsOfRealCaptions(t *testing.T) {
	caps := shareddata.Captions(t, "laion-captions/test_10000.parquet")[:300]
	lem, err := caption.English()
	if err != nil {
		t.Fatal(err)
	}
	nouns, err := caption.NewNouns(lem)
	if err != nil {
		t.Fatal(err)
	}
	var sets [][]string
	for i := 0; i < len(caps); i += 3 {
		sets = append(sets, caps[i:i+3])
	}
	perCaption, perImage, kept := Concepts(sets, nouns.Keys, 2)

	runs := regexp.MustCompile(`[\p{L}\p{N}]+`)
	letters := func(s string) string {
		var b strings.Builder
		for _, r := range s {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == ' ' {
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	first, err := prose.NewDocument("", prose.WithSegmentation(false), prose.WithExtraction(false))
	if err != nil {
		t.Fatal(err)
	}
	reference := func(c string) []string {
		doc, err := prose.NewDocument(caption.Clean(c), prose.UsingModel(first.Model), prose.WithSegmentation(false), prose.WithExtraction(false))
		if err != nil {
			t.Fatal(err)
		}
		set := map[string]bool{}
		for _, tk := range doc.Tokens() {
			if !strings.HasPrefix(tk.Tag, "NN") {
				continue
			}
			for _, w := range runs.FindAllString(tk.Text, -1) {
				k := letters(lem.Lemma(strings.ToLower(w)))
				if strings.HasPrefix(tk.Tag, "NNP") {
					k = letters(w)
				}
				if k != "" {
					set[k] = true
				}
			}
		}
		out := make([]string, 0, len(set))
		for k := range set {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	images := map[string]int{}
	differ := 0
	for i, c := range caps {
		want := reference(c)
		if !reflect.DeepEqual(perCaption[i], want) && !(len(want) == 0 && len(perCaption[i]) == 0) {
			differ++
			t.Logf("caption %d %q: got %v, reference %v", i, c, perCaption[i], want)
		}
	}
	// prose breaks exact score ties at random, so one caption in a
	// thousand may differ; none did in these 300 when written.
	if differ > 0 {
		t.Errorf("%d of 300 captions' noun keys differ from the reference", differ)
	}
	for _, img := range perImage {
		for _, w := range img {
			images[w]++
		}
	}
	var wantKept []string
	for w, n := range images {
		if n >= 2 {
			wantKept = append(wantKept, w)
		}
	}
	slices.Sort(wantKept)
	if !reflect.DeepEqual(kept, wantKept) || len(kept) < 20 {
		t.Errorf("kept %d concepts %v, want %d", len(kept), kept, len(wantKept))
	}
}
