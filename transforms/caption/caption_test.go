package caption_test

import (
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/conceptfreq/conceptfreq/transforms/caption"
)

func TestTokenize(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"A T-shirt", []string{"a", "t", "shirt"}},
		{"the dog's bone", []string{"the", "dog", "s", "bone"}},
		{"cats/dogs, MICE!", []string{"cats", "dogs", "mice"}},
		{"ak47 rifle 2012", []string{"ak", "47", "rifle", "2012"}},
		{"<b>Red</b> apple <a href=\"x\">link</a>", []string{"red", "apple", "link"}},
		{"see https://example.com/dog.jpg or www.cat.com now", []string{"see", "or", "now"}},
		{"fish &amp; chips", []string{"fish", "chips"}},
		{"Café crème", []string{"café", "crème"}},
		{"x < 3 and y > 2", []string{"x", "3", "and", "y", "2"}},
		{"", nil},
		{"bad\xffbyte", []string{"bad", "byte"}},
		{"snake_case_name", []string{"snake", "case", "name"}},
	}
	for _, tt := range tests {
		got := caption.Tokenize(tt.in)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Tokenize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func lem(t testing.TB) *caption.Lemmatizer {
	t.Helper()
	l, err := caption.English()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLemma(t *testing.T) {
	l := lem(t)
	for in, want := range map[string]string{
		"women": "woman", "children": "child", "mice": "mouse", "leaves": "leaf",
		"geese": "goose", "dogs": "dog", "boxes": "box", "teeth": "tooth", "dog": "dog",
		"xyzzyq": "xyzzyq",
	} {
		if got := l.Lemma(in); got != want {
			t.Errorf("Lemma(%q) = %q, want %q", in, got, want)
		}
	}
}

func vocab(t testing.TB, text string) *caption.Vocabulary {
	t.Helper()
	v, err := caption.ParseVocabulary(strings.NewReader(text), "test.txt", lem(t))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func matchNames(t testing.TB, m *caption.Matcher, v *caption.Vocabulary, text string) []string {
	t.Helper()
	var out []string
	for _, i := range m.Match(text, m.NewScratch(), nil) {
		out = append(out, v.Concepts[i].Name)
	}
	sort.Strings(out)
	return out
}

func TestMatcher(t *testing.T) {
	v := vocab(t, `# test vocabulary
woman
child
mouse
leaf
T-shirt
dining table
Granny Smith
goose
xylophonezzz
car	automobile|motor car
hot dog
`)
	tests := []struct {
		caption  string
		allWords []string
		phrase   []string
	}{
		{"Two women and three children", []string{"child", "woman"}, []string{"child", "woman"}},
		{"MICE in the leaves", []string{"leaf", "mouse"}, []string{"leaf", "mouse"}},
		{"a red t-shirt", []string{"T-shirt"}, []string{"T-shirt"}},
		{"a red T shirt", []string{"T-shirt"}, []string{"T-shirt"}},
		{"a shirt with a big T on it", []string{"T-shirt"}, nil},
		{"table for dining", []string{"dining table"}, nil},
		{"our dining tables", []string{"dining table"}, []string{"dining table"}},
		{"granny smith apples", []string{"Granny Smith"}, []string{"Granny Smith"}},
		{"the goose's egg", []string{"goose"}, []string{"goose"}},
		{"geese", []string{"goose"}, []string{"goose"}},
		{"an automobile", []string{"car"}, []string{"car"}},
		{"a car and an automobile and a motor car", []string{"car"}, []string{"car"}},
		{"car with a motor", []string{"car"}, []string{"car"}},
		{"a dog that is hot", []string{"hot dog"}, nil},
		{"hot dogs", []string{"hot dog"}, []string{"hot dog"}},
		{"nothing here", nil, nil},
		{"a woman woman woman", []string{"woman"}, []string{"woman"}},
	}
	for _, rule := range []caption.Rule{caption.AllWords, caption.Phrase} {
		m, err := caption.NewMatcher(v, lem(t), rule, caption.POSNone)
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			want := tt.allWords
			if rule == caption.Phrase {
				want = tt.phrase
			}
			if got := matchNames(t, m, v, tt.caption); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: Match(%q) = %q, want %q", rule, tt.caption, got, want)
			}
		}
	}
}

func TestUnknownWordsNeverMatch(t *testing.T) {
	// Unlike the study's script, a concept with a word no caption contains
	// has zero matches instead of matching on its known words.
	v := vocab(t, "blorpfish shark\nshark\n")
	m, err := caption.NewMatcher(v, lem(t), caption.AllWords, caption.POSNone)
	if err != nil {
		t.Fatal(err)
	}
	if got := matchNames(t, m, v, "a shark in the sea"); !reflect.DeepEqual(got, []string{"shark"}) {
		t.Errorf("got %q, want only shark", got)
	}
}

func TestScratchReuse(t *testing.T) {
	v := vocab(t, "dog\ncat\n")
	m, _ := caption.NewMatcher(v, lem(t), caption.AllWords, caption.POSNone)
	sc := m.NewScratch()
	for i := 0; i < 1000; i++ {
		text := "a dog"
		want := []int{0}
		if i%2 == 1 {
			text, want = "a cat", []int{1}
		}
		if got := m.Match(text, sc, nil); !reflect.DeepEqual(got, want) {
			t.Fatalf("iteration %d: got %v, want %v", i, got, want)
		}
	}
}

func TestPOSNouns(t *testing.T) {
	v := vocab(t, "saw\nwatch\nbird\n")
	nouns, err := caption.NewMatcher(v, lem(t), caption.AllWords, caption.POSNouns)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := caption.NewMatcher(v, lem(t), caption.AllWords, caption.POSNone)
	text := "I watch the bird every day"
	if got := matchNames(t, all, v, text); !reflect.DeepEqual(got, []string{"bird", "watch"}) {
		t.Errorf("pos=none: got %q, want bird and watch", got)
	}
	if got := matchNames(t, nouns, v, text); !reflect.DeepEqual(got, []string{"bird"}) {
		t.Errorf("pos=nouns: got %q, want only bird (watch is a verb here)", got)
	}
	if got := matchNames(t, nouns, v, "a gold watch on the table"); !reflect.DeepEqual(got, []string{"watch"}) {
		t.Errorf("pos=nouns: got %q, want watch (a noun here)", got)
	}
}

// A name is a key: a line naming an earlier concept again, with other
// aliases, merges them into it (one row, the union of spellings), and one
// with no new alias is dropped; either is listed with its line.
func TestRepeatedNamesMerge(t *testing.T) {
	v := vocab(t, "cat\ndog\ncat\tfeline|kitty\ndog\tdog\ncat\tkitty\n")
	if got := v.Names(); !reflect.DeepEqual(got, []string{"cat", "dog"}) {
		t.Fatalf("names: got %q, want cat and dog once each", got)
	}
	if got := v.Concepts[0].Aliases; !reflect.DeepEqual(got, []string{"feline", "kitty"}) {
		t.Errorf("cat's aliases: got %q, want feline and kitty", got)
	}
	var lines []string
	for _, d := range v.Dropped {
		lines = append(lines, d.String())
	}
	want := []string{`line 3 names the concept "cat" of line 1 again; its aliases feline|kitty are merged into it`,
		`line 4 repeats the concept "dog" of line 2; dropped`, `line 5 repeats the concept "cat" of line 1; dropped`}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("dropped: got %q, want %q", lines, want)
	}
	m, err := caption.NewMatcher(v, lem(t), caption.AllWords, caption.POSNone)
	if err != nil {
		t.Fatal(err)
	}
	if got := matchNames(t, m, v, "a feline on the sofa"); !reflect.DeepEqual(got, []string{"cat"}) {
		t.Errorf("a merged alias: got %q, want cat", got)
	}
}

// Spellings that normalise to one key each keep their row, listed as a
// group; an exact duplicate line is dropped; both match the same captions.
func TestSharedKeysKeepTheirRows(t *testing.T) {
	v := vocab(t, "American coot\ndog\nAmerican_Coot\nsunglass\nsunglasses\ndog\nwomen\nwoman\n")
	if got := v.Names(); !reflect.DeepEqual(got, []string{"American coot", "dog", "American_Coot", "sunglass", "sunglasses", "women", "woman"}) {
		t.Errorf("names: got %q", got)
	}
	want := [][]string{{"American coot", "American_Coot"}, {"sunglass", "sunglasses"}, {"women", "woman"}}
	if !reflect.DeepEqual(v.SharedKeys, want) {
		t.Errorf("shared keys: got %q, want %q", v.SharedKeys, want)
	}
	if len(v.Dropped) != 1 || v.Dropped[0].Line != 6 || v.Dropped[0].First != 2 || v.Dropped[0].String() != `line 6 repeats the concept "dog" of line 2; dropped` {
		t.Errorf("dropped: got %+v", v.Dropped)
	}
	for _, rule := range []caption.Rule{caption.AllWords, caption.Phrase} {
		m, err := caption.NewMatcher(v, lem(t), rule, caption.POSNone)
		if err != nil {
			t.Fatal(err)
		}
		got := matchNames(t, m, v, "an American coot wearing sunglasses next to two women")
		if !reflect.DeepEqual(got, []string{"American coot", "American_Coot", "sunglass", "sunglasses", "woman", "women"}) { // sorted
			t.Errorf("%s: matched %q, want every row of each group", rule, got)
		}
	}
}

func TestParseVocabulary(t *testing.T) {
	v := vocab(t, "\ufeff# header\n\n  Granny Smith  \ncar\tautomobile| motor car |\n# end\n")
	if got := v.Names(); !reflect.DeepEqual(got, []string{"Granny Smith", "car"}) {
		t.Errorf("names: got %q", got)
	}
	if got := v.Concepts[1].Aliases; !reflect.DeepEqual(got, []string{"automobile", "motor car"}) {
		t.Errorf("aliases: got %q", got)
	}
	if v.Concepts[0].Line != 3 || v.Concepts[1].Line != 4 {
		t.Errorf("lines: got %d, %d; want 3, 4", v.Concepts[0].Line, v.Concepts[1].Line)
	}
	if v.Hash() == vocab(t, "Granny Smith\ncar\n").Hash() {
		t.Error("hash ignores aliases")
	}
	bad := []struct {
		text, want string
	}{
		{"dog\n!!!\n", `test.txt:2: concept "!!!" has no words`},
		{"# only comments\n\n", "no concepts"},
		{"dog\n\tpuppy\n", "test.txt:2: empty concept name"},
		{"dog\nbad\xff\n", "test.txt:2: invalid UTF-8"},
	}
	for _, b := range bad {
		_, err := caption.ParseVocabulary(strings.NewReader(b.text), "test.txt", lem(t))
		if err == nil || !errors.Is(err, caption.ErrVocabulary) || !strings.Contains(err.Error(), b.want) {
			t.Errorf("ParseVocabulary(%q): got %v, want error containing %q", b.text, err, b.want)
		}
	}
}

func TestDefaultVocabulary(t *testing.T) {
	v, err := caption.DefaultVocabulary()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(v.Concepts); n != 3204 {
		t.Errorf("got %d concepts, want the study's 3,204 class-name spellings", n)
	}
	names := map[string]bool{}
	for _, n := range v.Names() {
		names[n] = true
	}
	for _, want := range []string{"tench", "goldfish", "Acadian_Flycatcher", "airplane", "pink primrose", "American coot", "American_Coot", "hot_dog", "car-side"} {
		if !names[want] {
			t.Errorf("default vocabulary lacks %q", want)
		}
	}
	for _, unwanted := range []string{"on", "t", "one", "time"} {
		if names[unwanted] {
			t.Errorf("default vocabulary has the retrieval word %q", unwanted)
		}
	}
	shared := false
	for _, g := range v.SharedKeys {
		if reflect.DeepEqual(g, []string{"American coot", "American_Coot"}) || reflect.DeepEqual(g, []string{"American_Coot", "American coot"}) {
			shared = true
		}
	}
	if !shared || len(v.Dropped) != 0 {
		t.Errorf("American coot / American_Coot not listed as sharing a key (%d groups), or lines dropped: %v", len(v.SharedKeys), v.Dropped)
	}
	r, err := caption.Embedded(caption.RetrievalVocabulary)
	if err != nil {
		t.Fatal(err)
	}
	rn := map[string]bool{}
	for _, n := range r.Names() {
		rn[n] = true
	}
	if !rn["on"] || !rn["time"] || len(r.Concepts) < 500 {
		t.Errorf("retrieval vocabulary: %d concepts, has on=%v time=%v", len(r.Concepts), rn["on"], rn["time"])
	}
	if _, err := caption.Embedded("embedded:nope"); err == nil || !strings.Contains(err.Error(), "embedded:study-retrieval") {
		t.Errorf("unknown embedded vocabulary: got %v", err)
	}
}

func TestErrorsForBadModes(t *testing.T) {
	if _, err := caption.ParseRule("fuzzy"); err == nil || !strings.Contains(err.Error(), `unknown match rule "fuzzy"`) {
		t.Errorf("ParseRule(fuzzy): got %v", err)
	}
	if _, err := caption.ParsePOS("verbs"); err == nil || !strings.Contains(err.Error(), `unknown POS mode "verbs"`) {
		t.Errorf("ParsePOS(verbs): got %v", err)
	}
}

func BenchmarkMatchLAIONLike(b *testing.B) {
	v, err := caption.DefaultVocabulary()
	if err != nil {
		b.Fatal(err)
	}
	m, err := caption.NewMatcher(v, lem(b), caption.AllWords, caption.POSNone)
	if err != nil {
		b.Fatal(err)
	}
	caps := []string{
		"Vintage Dining Table and 4 Chairs in Solid Oak, Great Condition",
		"A woman walking her dog on the beach at sunset",
		"Red T-Shirt with White Logo - Men's Size L",
		"<b>Granny Smith</b> apples on a wooden table, close-up photo",
	}
	sc := m.NewScratch()
	var dst []int
	words := 0
	for _, c := range caps {
		words += len(caption.Tokenize(c))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dst = m.Match(caps[i%len(caps)], sc, dst[:0])
	}
	b.ReportMetric(float64(b.N)*float64(words)/float64(len(caps))/b.Elapsed().Seconds(), "words/s")
}

func FuzzTokenize(f *testing.F) {
	for _, s := range []string{"A T-shirt", "<b>x</b> https://a.b/c", "fish &amp; chips", "bad\xffbyte", "Café crème ak47"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, tok := range caption.Tokenize(s) {
			if tok == "" || strings.ContainsAny(tok, " -/'<>") {
				t.Fatalf("Tokenize(%q) produced token %q", s, tok)
			}
		}
	})
}

func FuzzParseVocabulary(f *testing.F) {
	f.Add("dog\ncat\tkitten|puss\n# c\n")
	f.Add("women\nwoman\n")
	l, err := caption.English()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := caption.ParseVocabulary(strings.NewReader(s), "fuzz", l)
		if err != nil {
			if !errors.Is(err, caption.ErrVocabulary) {
				t.Fatalf("error without ErrVocabulary: %v", err)
			}
			return
		}
		if _, err := caption.NewMatcher(v, l, caption.Phrase, caption.POSNone); err != nil {
			t.Fatalf("parsed vocabulary does not compile: %v", err)
		}
	})
}
