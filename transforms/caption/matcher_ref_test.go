package caption

import (
	"github.com/conceptfreq/conceptfreq/transforms/caption/internal/postag"

	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/conceptfreq/conceptfreq/internal/shareddata"
)

// refMatch is the matcher as it was before the token lexicon: every token
// string lower-cased, lemmatised and looked up by lemma. The differential
// tests hold the lexicon path to it.
func refMatch(m *Matcher, caption string, sc *Scratch, dst []int) []int {
	sc.gen++
	if sc.gen == 0 {
		clear(sc.present)
		clear(sc.matched)
		sc.gen = 1
	}
	id := func(w string) int32 {
		if id, ok := m.lemmaID[m.lem.Lemma(w)]; ok {
			return id
		}
		return -1
	}
	seq := sc.seq[:0]
	if m.pos == POSNouns {
		ft, _ := postag.Shared()
		if sc.tag == nil {
			sc.tag = &postag.Scratch{}
		}
		words, tags := ft.TagCaption(Clean(caption), sc.tag)
		for i, w := range words {
			if !isNounTag(tags[i]) {
				seq = append(seq, -1)
				continue
			}
			for _, t := range Tokenize(w) {
				seq = append(seq, id(t))
			}
		}
	} else {
		for _, t := range Tokenize(caption) {
			seq = append(seq, id(t))
		}
	}
	sc.seq = seq
	return m.matchSeq(sc, dst)
}

// rawLAION loads the 10,000 real LAION captions as they are (shared data).
func rawLAION(t testing.TB) []string {
	t.Helper()
	caps := shareddata.Captions(t, "laion-captions/test_10000.parquet")
	if len(caps) != 10000 {
		t.Fatalf("read %d captions, want 10,000", len(caps))
	}
	return caps
}

// generatedCaptions mixes the real captions' tokens with concept words'
// inflections, numbers, accents, entities, tags and punctuation: captions
// no cache has seen.
func generatedCaptions(real []string, n int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 1))
	var pool []string
	for _, c := range real {
		pool = append(pool, strings.Fields(c)...)
	}
	extra := []string{"Mice", "WOMEN", "leaves", "dining", "T-Shirts", "four-poster", "café", "CRÈME", "naïve", "Ⅻ", "٣٤", "x²",
		"&amp;", "&#233;", "& ", "<b>", "</i>", "www.example.com/dog", "https://a.b/cat", "ǅungla", "İstanbul", "ΣΊΣΥΦΟΣ",
		"geese", "oxen", "children's", "wolves", "\u0301", "e\u0301", "ﬁsh", "ＡＢＣ", "3rd", "first", "\xff", "K9", "ak47"}
	out := make([]string, n)
	var b strings.Builder
	for i := range out {
		b.Reset()
		k := 1 + r.IntN(14)
		for j := 0; j < k; j++ {
			if j > 0 {
				b.WriteString([]string{" ", " ", " ", "-", ", ", "/", "'s ", "_"}[r.IntN(8)])
			}
			switch r.IntN(10) {
			case 0:
				b.WriteString(extra[r.IntN(len(extra))])
			case 1:
				b.WriteString(strconv.Itoa(r.IntN(100000)))
			case 2:
				w := pool[r.IntN(len(pool))]
				b.WriteString(strings.ToUpper(w))
			default:
				b.WriteString(pool[r.IntN(len(pool))])
			}
		}
		out[i] = b.String()
	}
	return out
}

func TestMatcherLexiconDifferential(t *testing.T) {
	real := rawLAION(t)
	lem, err := English()
	if err != nil {
		t.Fatal(err)
	}
	n := 2_000_000
	if testing.Short() {
		n = 100_000
	}
	gen := generatedCaptions(real, n, 7)
	vocabs := map[string]*Vocabulary{}
	v, err := DefaultVocabulary()
	if err != nil {
		t.Fatal(err)
	}
	vocabs["default"] = v
	// A vocabulary of words the generator plants, with inflected and
	// non-ASCII spellings and numbers.
	pv, err := ParseVocabulary(strings.NewReader("mouse\nwoman\nleaf\ndine\nt-shirt\ncafé\ncrème brûlée\nnaïve\nistanbul\n3\n47\nfish\nchild\nwolf\ngoose\nox\nbed\nposter\n"), "planted", lem)
	if err != nil {
		t.Fatal(err)
	}
	vocabs["planted"] = pv
	for name, v := range vocabs {
		for _, mode := range []struct {
			rule  Rule
			pos   POS
			limit int
		}{{AllWords, POSNone, len(gen)}, {Phrase, POSNone, len(gen)}, {AllWords, POSNouns, 100_000}} {
			t.Run(fmt.Sprintf("%s/%s/%s", name, mode.rule, mode.pos), func(t *testing.T) {
				m, err := NewMatcher(v, lem, mode.rule, mode.pos)
				if err != nil {
					t.Fatal(err)
				}
				a, b := m.NewScratch(), m.NewScratch()
				var got, want []int
				matched, diffs := 0, 0
				caps := append(slices.Clip(real), gen[:min(mode.limit, len(gen))]...)
				for _, c := range caps {
					got = m.Match(c, a, got[:0])
					want = refMatch(m, c, b, want[:0])
					if len(want) > 0 {
						matched++
					}
					if !slices.Equal(got, want) {
						if diffs++; diffs <= 5 {
							t.Errorf("%q: lexicon %v, reference %v", c, got, want)
						}
					}
				}
				t.Logf("%d captions, %d with a concept, %d differences", len(caps), matched, diffs)
				if matched < len(caps)/50 {
					t.Errorf("only %d of %d captions matched: the test exercises too little", matched, len(caps))
				}
			})
		}
	}
}

// TestStudyLazyTagging: the study rule tags only the tokens whose tag can
// change a mask; its masks equal those of tagging every token, on the real
// captions and generated ones.
func TestStudyLazyTagging(t *testing.T) {
	real := rawLAION(t)
	m := defaultStudyMatcher(t)
	n := 60_000
	if testing.Short() {
		n = 5_000
	}
	caps := append(slices.Clip(real), generatedCaptions(real, n, 11)...)
	a, b := m.NewScratch(), m.NewScratch()
	var got []ConceptMask
	withMask, diffs := 0, 0
	var realLazy, realFull int64
	for i, c := range caps {
		if i == len(real) {
			realLazy, realFull = a.tag.Predictions(), b.tag.Predictions()
		}
		got = m.Masks(c, a, got[:0])
		gm := map[int]uint64{}
		for _, cm := range got {
			gm[cm.Concept] = cm.Mask
		}
		clear(b.keys)
		m.index(c, b, false)
		want := map[int]uint64{}
		for k := range b.keys {
			for _, p := range m.byPiece[k] {
				want[int(p.concept)] |= p.bit
			}
		}
		if len(want) > 0 {
			withMask++
		}
		if !maps.Equal(gm, want) {
			if diffs++; diffs <= 5 {
				t.Errorf("%q: lazy %v, full %v", c, gm, want)
			}
		}
	}
	t.Logf("%d captions, %d with a mask, %d differences; tags predicted on the %d real captions: %d lazily, %d tagging every token (all captions: %d, %d)",
		len(caps), withMask, diffs, len(real), realLazy, realFull, a.tag.Predictions(), b.tag.Predictions())
	if withMask < len(caps)/10 {
		t.Errorf("only %d captions have a mask", withMask)
	}
	// The laziness is the point: docs/study-rule.md quotes 45,234 of
	// 72,296 predictions on the real captions; a regression to tagging
	// every token would predict them all.
	if realFull == 0 || float64(realLazy) > 0.7*float64(realFull) {
		t.Errorf("the study rule predicted %d tags on the real captions, tagging every token %d: want at most 70%%", realLazy, realFull)
	}
}

// FuzzMatcherDifferential holds the matcher (all-words and phrase, the
// planted vocabulary) to the reference path on any input.
func FuzzMatcherDifferential(f *testing.F) {
	for _, s := range []string{"Café crème brûlée &amp; t-shirts", "Mice e\u0301 ﬁsh <b>geese</b> www.x.y 47",
		strings.Repeat("x", 60) + "naïve 3 wolves", "\xffwomen\u0301 İstanbul &#233;"} {
		f.Add(s)
	}
	lem, err := English()
	if err != nil {
		f.Fatal(err)
	}
	v, err := ParseVocabulary(strings.NewReader("mouse\nwoman\nleaf\ndine\nt-shirt\ncafé\ncrème brûlée\nnaïve\nistanbul\n3\n47\nfish\nchild\nwolf\ngoose\nox\nbed\nposter\n"), "planted", lem)
	if err != nil {
		f.Fatal(err)
	}
	var ms []*Matcher
	var scs []*Scratch // reused across inputs, as a worker does
	for _, rule := range []Rule{AllWords, Phrase} {
		m, err := NewMatcher(v, lem, rule, POSNone)
		if err != nil {
			f.Fatal(err)
		}
		ms, scs = append(ms, m), append(scs, m.NewScratch())
	}
	f.Fuzz(func(t *testing.T, s string) {
		for i, m := range ms {
			got := m.Match(s, scs[i], nil)
			if want := refMatch(m, s, m.NewScratch(), nil); !slices.Equal(got, want) {
				t.Fatalf("%s %q: lexicon %v, reference %v", m.rule, s, got, want)
			}
		}
	})
}
