package postag

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"math"
	"math/bits"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/jdkato/prose/v2"
	"github.com/mingrammer/commonregex"

	"github.com/conceptfreq/conceptfreq/transforms/caption/internal/arena"
	"github.com/conceptfreq/conceptfreq/transforms/caption/internal/lexicon"
)

// Tagger is prose's averaged-perceptron POS tagger (prose v2.0.0,
// model/AveragedPerceptron) with a faster inference path and the same
// tags. At load, the model's features are regrouped by what they are keyed
// on, so that tagging looks nothing up by a built string:
//
//   - per normalised word ("norm", the key of the word features), an entry
//     with its "i word" feature, its "i-1 tag+i word" features by tag, and,
//     per role as a neighbour of the token tagged (i-1, i-2, i+1, i+2), the
//     weights of the word and suffix features it gives there merged per
//     class; a norm no word feature has takes the entry of its suffix;
//   - per previous-tag pair, the bias and the three tag features summed
//     into a dense row (filled per scratch as pairs are met);
//   - per exact word, prose's tag-map tag; per suffix and first byte, the
//     "i suffix" and "i pref1" features.
//
// A token then costs a few probes of small read-only tables, shared by
// every goroutine, and nothing is cached per word: a crawl's unseen words
// cost what seen ones do. prose sums the same weights in map order and
// breaks exact ties at random; here the order is fixed, so a tag could
// differ only on a tie to the last bit (none in the 10,000 LAION captions:
// TestFastTaggerMatchesProse).
//
// Captions holding a token that might be one of prose's emoticons (its
// list is private) are tagged by prose itself.
type Tagger struct {
	// emo asks prose itself about tokens that might be its emoticons.
	emo     *emoticonProbe
	classes []string
	nc      int
	tagMap  map[string]string
	feats   map[string]int32 // feature key → index into offs (load time and rare cases)
	offs    []int32          // feature f's weights are lw[offs[f]:offs[f+1]]
	lw      []labelWeight
	fmask   []uint64 // feature f's labels as a bit set
	bias    int32    // the "bias" feature, -1 if none

	// Tags: the names met in tag features, classes and tag-map values, by ID;
	// ID otherTag stands for any other tag (it is in no feature).
	tagID    map[string]int32
	tagNames []string
	otherTag int32
	classTag []int32 // class → tag ID
	start1   int32   // "-START-"
	start2   int32   // "-START2-"
	m1Tag    []int32 // tag ID → "i-1 tag" feature
	m2Tag    []int32 // tag ID → "i-2 tag" feature

	// Words.
	norms     *lexicon.Table // norm → entry
	suffixes  *lexicon.Table // suffix of a norm no word feature has → entry
	entries   []wordEntry
	tw        []tagFeat     // "i-1 tag+i word" features of the entries
	ctxW      []labelWeight // merged context and tag+word weights of the entries
	marker    [4]int32      // entries of -START-, -START2-, -END-, -END2-
	hyphen    int32         // entries of the norms !HYPHEN, !YEAR, !DIGITS
	year      int32
	digits    int32
	iSuffix   *lexicon.Table // suffix3(word) → "i suffix" feature
	pref1     [256]int32     // first byte → "i pref1" feature
	fixed     *lexicon.Table // word → index into fixedTags/fixedID (prose's tag map)
	fixedTags []string       // tag-map tags
	fixedID   []int32        // their tag IDs
}

// wordEntry is what a norm gives as the token tagged and as a neighbour.
type wordEntry struct {
	iWord    int32    // "i word" feature, -1 if none
	tw0, tw1 int32    // its "i-1 tag+i word" features: tw[tw0:tw1]
	ctx      [5]int32 // role r's merged weights: ctxW[ctx[r]:ctx[r+1]]
	ctxMask  [4]uint64
}

// labelWeight is one class weight of a feature.
type labelWeight struct {
	w     float64
	label int32
}

// tagFeat is an "i-1 tag+i word" feature of a word entry: the previous
// tag's ID, and the feature's weights, ctxW[off:end] (kept next to the
// entry's other weights), and classes.
type tagFeat struct {
	tag, off, end int32
	mask          uint64
}

// Roles of a context word.
const (
	ctxM1 = iota // "i-1 word", "i-1 suffix"
	ctxM2        // "i-2 word"
	ctxP1        // "i+1 word", "i+1 suffix"
	ctxP2        // "i+2 word"
)

// Shared is the process's tagger, loaded on the first call; it is
// read-only after that (but for its emoticon probe's cache, which locks),
// so every matcher shares it.
var Shared = sync.OnceValues(Load)

// ProseModel loads prose's English tagger once per process (without its
// entity extractor, which prose.ModelFromData would load too: a document
// made without extraction carries a tagger-only model).
var ProseModel = sync.OnceValues(func() (*prose.Model, error) {
	doc, err := prose.NewDocument("", prose.WithSegmentation(false), prose.WithExtraction(false))
	if err != nil {
		return nil, fmt.Errorf("caption: loading prose POS model: %w", err)
	}
	if doc.Model == nil {
		return nil, fmt.Errorf("caption: loading prose POS model: no model")
	}
	return doc.Model, nil
})

func decodeAsset(name string, v any) error {
	b, err := prose.Asset("model/AveragedPerceptron/" + name)
	if err != nil {
		return fmt.Errorf("caption: prose model %s: %w", name, err)
	}
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(v); err != nil {
		return fmt.Errorf("caption: prose model %s: %w", name, err)
	}
	return nil
}

// Load builds a tagger from prose's model (about half a second of CPU);
// most callers want Shared.
func Load() (*Tagger, error) {
	// prose's own tagger is needed too, for the few tokens that might be
	// one of its emoticons (emoticonProbe): load it meanwhile, on another core.
	proseDone := make(chan struct{})
	var proseModel *prose.Model
	var proseErr error
	go func() {
		proseModel, proseErr = ProseModel()
		close(proseDone)
	}()
	t := &Tagger{}
	var weights map[string]map[string]float64
	if err := decodeAsset("classes.gob", &t.classes); err != nil {
		return nil, err
	}
	if err := decodeAsset("tags.gob", &t.tagMap); err != nil {
		return nil, err
	}
	if err := decodeAsset("weights.gob", &weights); err != nil {
		return nil, err
	}
	classIndex := map[string]uint16{}
	for i, c := range t.classes {
		classIndex[c] = uint16(i)
	}
	t.feats = make(map[string]int32, len(weights))
	t.offs = append(t.offs, 0)
	for feat, byLabel := range weights {
		t.feats[feat] = int32(len(t.offs) - 1)
		for label, w := range byLabel {
			ci, ok := classIndex[label]
			if !ok {
				ci = uint16(len(t.classes))
				classIndex[label] = ci
				t.classes = append(t.classes, label)
			}
			t.lw = append(t.lw, labelWeight{w: w, label: int32(ci)})
		}
		t.offs = append(t.offs, int32(len(t.lw)))
	}
	if len(t.classes) > 64 {
		return nil, fmt.Errorf("caption: prose model has %d classes; the tagger handles at most 64", len(t.classes))
	}
	t.nc = len(t.classes)
	t.fmask = make([]uint64, len(t.offs)-1)
	for f := range t.fmask {
		for _, lw := range t.lw[t.offs[f]:t.offs[f+1]] {
			t.fmask[f] |= 1 << lw.label
		}
	}
	t.bias = t.feature("bias")
	if err := t.indexTags(); err != nil {
		return nil, err
	}
	if err := t.indexWords(); err != nil {
		return nil, err
	}
	t.toHugePages()
	<-proseDone
	if proseErr != nil {
		return nil, proseErr
	}
	t.emo = &emoticonProbe{model: proseModel}
	return t, nil
}

// toHugePages moves the tables read per token to huge-page memory (none
// of them holds a pointer).
func (t *Tagger) toHugePages() {
	lexs := []*lexicon.Table{t.norms, t.suffixes, t.iSuffix, t.fixed}
	n := arena.Size(t.lw) + arena.Size(t.ctxW) + arena.Size(t.entries) + arena.Size(t.offs) + arena.Size(t.fmask) + arena.Size(t.tw)
	for _, l := range lexs {
		n += l.Size()
	}
	a := arena.New(n)
	t.lw, t.ctxW, t.entries = arena.Copy(a, t.lw), arena.Copy(a, t.ctxW), arena.Copy(a, t.entries)
	t.offs, t.fmask, t.tw = arena.Copy(a, t.offs), arena.Copy(a, t.fmask), arena.Copy(a, t.tw)
	for _, l := range lexs {
		l.MoveTo(a)
	}
}

// feature returns the ID of the feature whose key is the parts joined by
// spaces, or -1.
func (t *Tagger) feature(parts ...string) int32 {
	if f, ok := t.feats[strings.Join(parts, " ")]; ok {
		return f
	}
	return -1
}

// indexTags interns the tag names and the tag features.
func (t *Tagger) indexTags() error {
	t.tagID = map[string]int32{}
	intern := func(name string) int32 {
		id, ok := t.tagID[name]
		if !ok {
			id = int32(len(t.tagNames))
			t.tagID[name] = id
			t.tagNames = append(t.tagNames, name)
		}
		return id
	}
	for _, c := range t.classes {
		t.classTag = append(t.classTag, intern(c))
	}
	t.start1, t.start2 = intern("-START-"), intern("-START2-")
	for key := range t.feats {
		switch {
		case strings.HasPrefix(key, "i-1 tag "), strings.HasPrefix(key, "i-2 tag "):
			intern(key[len("i-1 tag "):])
		case strings.HasPrefix(key, "i tag+i-2 tag "):
			p1, p2, _ := strings.Cut(key[len("i tag+i-2 tag "):], " ")
			intern(p1)
			intern(p2)
		case strings.HasPrefix(key, "i-1 tag+i word "):
			p1, _, _ := strings.Cut(key[len("i-1 tag+i word "):], " ")
			intern(p1)
		}
	}
	t.fixed = lexicon.New()
	for word, tag := range t.tagMap {
		if len(word) > lexicon.MaxKey || word == "" {
			return fmt.Errorf("caption: prose tag-map word %q cannot be indexed", word)
		}
		t.fixed.Put(word, int32(len(t.fixedTags)))
		t.fixedTags = append(t.fixedTags, tag)
		t.fixedID = append(t.fixedID, intern(tag))
	}
	t.fixed.Seal()
	t.otherTag = int32(len(t.tagNames))
	t.m1Tag = make([]int32, len(t.tagNames)+1)
	t.m2Tag = make([]int32, len(t.tagNames)+1)
	t.m1Tag[t.otherTag], t.m2Tag[t.otherTag] = -1, -1
	for id, name := range t.tagNames {
		t.m1Tag[id], t.m2Tag[id] = t.feature("i-1 tag", name), t.feature("i-2 tag", name)
	}
	return nil
}

// tagIDOf is a tag name's ID (otherTag for a name in no feature).
func (t *Tagger) tagIDOf(name string) int32 {
	if id, ok := t.tagID[name]; ok {
		return id
	}
	return t.otherTag
}

// indexWords builds the word entries and the suffix and prefix tables.
func (t *Tagger) indexWords() error {
	norms := map[string]bool{}
	tagWords := map[string][]tagFeat{}
	t.iSuffix = lexicon.New()
	suffixes := map[string]bool{}
	for key, f := range t.feats {
		switch {
		case strings.HasPrefix(key, "i word "), strings.HasPrefix(key, "i-1 word "), strings.HasPrefix(key, "i+1 word "),
			strings.HasPrefix(key, "i-2 word "), strings.HasPrefix(key, "i+2 word "):
			norms[key[strings.Index(key, "word ")+len("word "):]] = true
		case strings.HasPrefix(key, "i-1 tag+i word "):
			p1, norm, _ := strings.Cut(key[len("i-1 tag+i word "):], " ")
			norms[norm] = true
			tagWords[norm] = append(tagWords[norm], tagFeat{tag: t.tagIDOf(p1), off: f})
		case strings.HasPrefix(key, "i suffix "):
			if s := key[len("i suffix "):]; s != "" {
				t.iSuffix.Put(s, f)
			}
		case strings.HasPrefix(key, "i-1 suffix "), strings.HasPrefix(key, "i+1 suffix "):
			suffixes[key[len("i-1 suffix "):]] = true
		}
	}
	t.iSuffix.Seal()
	for b := range t.pref1 {
		t.pref1[b] = t.feature("i pref1", string(rune(b)))
	}
	t.entries = make([]wordEntry, 1, 1+len(norms)+len(suffixes))
	t.entries[0] = wordEntry{iWord: -1}      // 0: no feature
	t.ctxW = make([]labelWeight, 0, 800_000) // about what the model gives (grown if not)
	t.norms, t.suffixes = lexicon.New(), lexicon.New()
	for norm := range norms {
		if norm == "" || len(norm) > lexicon.MaxKey {
			return fmt.Errorf("caption: prose model word %q cannot be indexed", norm)
		}
		e := t.newEntry(norm, true)
		e.tw0 = int32(len(t.tw))
		for _, tf := range tagWords[norm] {
			f := tf.off // the feature, while building
			tf.off = int32(len(t.ctxW))
			t.ctxW = append(t.ctxW, t.lw[t.offs[f]:t.offs[f+1]]...)
			tf.end, tf.mask = int32(len(t.ctxW)), t.fmask[f]
			t.tw = append(t.tw, tf)
		}
		e.tw1 = int32(len(t.tw))
		t.norms.Put(norm, int32(len(t.entries)))
		t.entries = append(t.entries, e)
	}
	for s := range suffixes {
		if s == "" {
			continue
		}
		t.suffixes.Put(s, int32(len(t.entries)))
		t.entries = append(t.entries, t.newEntry(s, false))
	}
	t.norms.Seal()
	t.suffixes.Seal()
	for k, m := range []string{"-START-", "-START2-", "-END-", "-END2-"} {
		t.marker[k] = t.entryOf([]byte(m))
	}
	t.hyphen, t.year, t.digits = t.entryOf([]byte("!HYPHEN")), t.entryOf([]byte("!YEAR")), t.entryOf([]byte("!DIGITS"))
	return nil
}

// newEntry merges what a norm gives (word: true) or, for a norm no word
// feature has, what its suffix s gives.
func (t *Tagger) newEntry(s string, word bool) wordEntry {
	e := wordEntry{iWord: -1}
	var fs [4][2]int32
	if word {
		e.iWord = t.feature("i word", s)
		suf := suffix3(s)
		fs = [4][2]int32{
			ctxM1: {t.feature("i-1 word", s), t.feature("i-1 suffix", suf)},
			ctxM2: {t.feature("i-2 word", s), -1},
			ctxP1: {t.feature("i+1 word", s), t.feature("i+1 suffix", suf)},
			ctxP2: {t.feature("i+2 word", s), -1},
		}
	} else {
		fs = [4][2]int32{ctxM1: {t.feature("i-1 suffix", s), -1}, ctxM2: {-1, -1}, ctxP1: {t.feature("i+1 suffix", s), -1}, ctxP2: {-1, -1}}
	}
	var acc [64]float64
	for role, pair := range fs {
		e.ctx[role] = int32(len(t.ctxW))
		var mask uint64
		for _, f := range pair {
			if f < 0 {
				continue
			}
			for _, lw := range t.lw[t.offs[f]:t.offs[f+1]] {
				acc[lw.label] += lw.w
			}
			mask |= t.fmask[f]
		}
		for m := mask; m != 0; m &= m - 1 {
			c := bits.TrailingZeros64(m)
			t.ctxW = append(t.ctxW, labelWeight{w: acc[c], label: int32(c)})
			acc[c] = 0
		}
		e.ctxMask[role] = mask
	}
	e.ctx[4] = int32(len(t.ctxW))
	return e
}

// entryOf is a norm's entry: its own, else its suffix's, else 0.
func (t *Tagger) entryOf(norm []byte) int32 {
	if e, ok := t.norms.Find(norm); ok {
		return e
	}
	suf := norm[len(norm)-min(len(norm), 3):]
	if e, ok := t.suffixes.Find(suf); ok {
		return e
	}
	return 0
}

func suffix3(s string) string { return s[len(s)-min(len(s), 3):] }

// Scratch holds one goroutine's buffers.
type Scratch struct {
	tags        []string
	tagIDs      []int32
	entry       []int32 // the tokens' entries (-1: not looked up yet; only tokens near a predicted one are)
	need        []bool  // tags to compute (TagCaptionNeeded; Tag marks what they depend on)
	predictions int64   // tags predicted so far (for tests and benchmarks)
	tok         *proseTok
	lower       []byte
	words       []string // the words being tagged
	// pairRow maps a pair of previous tag IDs to its row of pairVec (-1:
	// not built yet): the bias and the "i-1 tag", "i-2 tag" and "i tag+i-2
	// tag" weights summed, dense over the classes; pairMask their classes.
	pairRow  []int32
	pairVec  []float64
	pairMask []uint64
	// special caches the tags of words whose tag needs a regular
	// expression (links, e-mails, prose's -NONE- and -XYZ- forms); bounded.
	special map[string]string
}

const maxSpecialWords = 1 << 12

var (
	noneRE = regexp.MustCompile(`^(?:0|\*[\w?]\*|\*\-\d{1,3}|\*[A-Z]+\*\-\d{1,3}|\*)$`)
	keepRE = regexp.MustCompile(`^\-[A-Z]{3}\-$`)
)

// maybeEmoticon is a superset test for prose's (private) emoticon list:
// every entry has 2 to 11 characters, at most 3 of them letters or
// digits, and holds one of ( ) : ; = _ — or is one of a few short mixes of
// letters and digits: "8D", "xD", "XDD" and "xDD" ([8xX] then d or D),
// "O.o" (letter, dot, letter) and "8-D" (digit, hyphen, letter).
func maybeEmoticon(w string) bool {
	if len(w) < 2 {
		return false
	}
	// ASCII: the same count byte by byte, stopping at a fourth letter or
	// digit (then it is none).
	alnum, punct := 0, false
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case c >= utf8.RuneSelf:
			return maybeEmoticonRunes(w)
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
			if alnum++; alnum > 3 {
				return false
			}
		case c == '(' || c == ')' || c == ':' || c == ';' || c == '=' || c == '_':
			punct = true
		}
	}
	return emoticonShape(w, len(w), alnum, punct)
}

// maybeEmoticonRunes is maybeEmoticon counting runes.
func maybeEmoticonRunes(w string) bool {
	runes, alnum, punct := 0, 0, false
	for _, r := range w {
		runes++
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			alnum++
		case strings.ContainsRune("():;=_", r):
			punct = true
		}
	}
	return emoticonShape(w, runes, alnum, punct)
}

// emoticonShape is maybeEmoticon given w's rune count, its letters and
// digits, and whether it holds one of ( ) : ; = _.
func emoticonShape(w string, runes, alnum int, punct bool) bool {
	switch {
	case runes > 11 || alnum > 3:
		return false
	case punct:
		return true
	case len(w) == 3 && (w[1] == '.' || w[1] == '-'):
		return true
	}
	return runes <= 3 && strings.IndexByte("8xX", w[0]) >= 0 && strings.ContainsAny(w, "dD")
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// normEntry is the entry of prose's normalize(w) (!HYPHEN for a hyphen
// after the first byte, !YEAR for a 4-character integer, !DIGITS for a
// leading digit, else the lower case), computed without allocating for
// ASCII words (TestNormEntry holds it to prose's rule).
func (t *Tagger) normEntry(sc *Scratch, w string) int32 {
	switch {
	case w == "":
		return 0
	case w[0] != '-' && strings.IndexByte(w, '-') >= 0:
		return t.hyphen
	case len(w) == 4 && (isDigit(w[0]) || w[0] == '+' || w[0] == '-') && isDigit(w[1]) && isDigit(w[2]) && isDigit(w[3]):
		return t.year // strconv.Atoi accepts a sign
	case isDigit(w[0]):
		return t.digits
	}
	sc.lower = sc.lower[:0]
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c >= utf8.RuneSelf {
			sc.lower = append(sc.lower[:0], strings.ToLower(w)...)
			break
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		sc.lower = append(sc.lower, c)
	}
	return t.entryOf(sc.lower)
}

// fixedTag is a word's tag when it does not depend on the words before:
// prose's special cases and its tag map; "" otherwise.
func (t *Tagger) fixedTag(word string) string {
	switch {
	case word == "-":
		return "-"
	case strings.IndexByte(word, '.') >= 0 && commonregex.LinkRegex.MatchString(word),
		strings.IndexByte(word, '@') >= 0 && (commonregex.EmailRegex.MatchString(word) || strings.HasPrefix(word, "@")):
		return "NN"
	case (word == "0" || strings.HasPrefix(word, "*")) && noneRE.MatchString(word):
		return "-NONE-"
	case strings.HasPrefix(word, "-") && keepRE.MatchString(word):
		return word
	}
	return t.tagMap[word]
}

// fixedOf is fixedTag with its tag ID: a table lookup unless the word
// needs one of the regular expressions (cached per scratch).
func (t *Tagger) fixedOf(sc *Scratch, w string) (string, int32) {
	if w == "" || w == "-" || w == "0" || w[0] == '*' || w[0] == '-' || strings.IndexByte(w, '.') >= 0 || strings.IndexByte(w, '@') >= 0 {
		tag, ok := sc.special[w]
		if !ok {
			tag = t.fixedTag(w)
			if sc.special == nil || len(sc.special) >= maxSpecialWords {
				sc.special = map[string]string{}
			}
			sc.special[strings.Clone(w)] = tag
		}
		if tag == "" {
			return "", -1
		}
		return tag, t.tagIDOf(tag)
	}
	kb := unsafe.Slice(unsafe.StringData(w), len(w))
	if k, ok := t.fixed.Find(kb); ok {
		return t.fixedTags[k], t.fixedID[k]
	}
	return "", -1
}

// info returns token j's entry, looking it up at first use.
func (t *Tagger) info(sc *Scratch, j int) int32 {
	if sc.entry[j] < 0 {
		sc.entry[j] = t.normEntry(sc, sc.words[j])
	}
	return sc.entry[j]
}

// Tag tags the words as prose's tagger would; ok is false when a word
// might be an emoticon (the caller then asks prose itself). With need
// (nil: every tag), only the tags need asks for and those they depend on
// are computed (need is marked with the latter); the others are "".
func (t *Tagger) Tag(words []string, sc *Scratch, need []bool) (tags []string, ok bool) {
	for _, w := range words {
		if maybeEmoticon(w) && !t.emo.not(w) {
			return nil, false
		}
	}
	// Tags that do not depend on the tags before them first; "" marks the
	// ones to predict.
	sc.entry, sc.tags, sc.tagIDs, sc.words = sc.entry[:0], sc.tags[:0], sc.tagIDs[:0], words
	for _, w := range words {
		sc.entry = append(sc.entry, -1)
		tag, id := t.fixedOf(sc, w)
		sc.tags, sc.tagIDs = append(sc.tags, tag), append(sc.tagIDs, id)
	}
	if need != nil {
		// Only the tags asked for, and those they depend on (a predicted
		// tag depends on the two before it), marked in need: the others
		// stay "".
		for i := len(words) - 1; i >= 0; i-- {
			if need[i] && sc.tags[i] == "" {
				if i >= 1 {
					need[i-1] = true
				}
				if i >= 2 {
					need[i-2] = true
				}
			}
		}
	}
	for i := range words {
		if sc.tags[i] != "" || need != nil && !need[i] {
			continue
		}
		t1, t2 := t.start1, t.start2
		switch {
		case i >= 2:
			t1, t2 = sc.tagIDs[i-1], sc.tagIDs[i-2]
		case i == 1:
			t1, t2 = sc.tagIDs[0], t.start1
		}
		if class := t.predict(i, sc, t1, t2); class >= 0 {
			sc.tags[i], sc.tagIDs[i] = t.classes[class], t.classTag[class]
		} else {
			sc.tagIDs[i] = t.otherTag
		}
		sc.predictions++
	}
	return sc.tags, true
}

// pair returns the row of pairVec for previous tags t1 (i-1) and t2 (i-2).
func (t *Tagger) pair(sc *Scratch, t1, t2 int32) int {
	n := int32(len(t.tagNames) + 1)
	if t1 < 0 || t1 >= n {
		t1 = t.otherTag
	}
	if t2 < 0 || t2 >= n {
		t2 = t.otherTag
	}
	if sc.pairRow == nil {
		sc.pairRow = make([]int32, n*n)
		for k := range sc.pairRow {
			sc.pairRow[k] = -1
		}
	}
	k := t1*n + t2
	if r := sc.pairRow[k]; r >= 0 {
		return int(r)
	}
	r := len(sc.pairMask)
	sc.pairRow[k] = int32(r)
	v := make([]float64, t.nc)
	var mask uint64
	fs := [4]int32{t.bias, t.m1Tag[t1], t.m2Tag[t2], -1}
	if t1 != t.otherTag && t2 != t.otherTag {
		fs[3] = t.feature("i tag+i-2 tag", t.tagNames[t1], t.tagNames[t2])
	}
	for _, f := range fs {
		if f < 0 {
			continue
		}
		for _, lw := range t.lw[t.offs[f]:t.offs[f+1]] {
			v[lw.label] += lw.w
		}
		mask |= t.fmask[f]
	}
	sc.pairVec = append(sc.pairVec, v...)
	sc.pairMask = append(sc.pairMask, mask)
	return r
}

// ctxEntry is the entry of the context word at position j of the caption
// (negative or past the end: the -START-/-END- markers).
func (t *Tagger) ctxEntry(sc *Scratch, j int) *wordEntry {
	switch {
	case j >= 0 && j < len(sc.entry):
		return &t.entries[t.info(sc, j)]
	case j == -2:
		return &t.entries[t.marker[0]]
	case j == -1:
		return &t.entries[t.marker[1]]
	case j == len(sc.entry):
		return &t.entries[t.marker[2]]
	}
	return &t.entries[t.marker[3]]
}

// predict is prose's featurize + predict for token i, given the tag IDs of
// the two tokens before it; it returns the class, -1 if no feature weighs
// any. (prose: i = min(len(ctx)-2, i+2) on the padded context, which is
// i+2 for every token: the window is tokens i-2 .. i+2.)
func (t *Tagger) predict(i int, sc *Scratch, t1, t2 int32) int {
	nc := t.nc
	r := t.pair(sc, t1, t2)
	var scores [64]float64 // by class (at most 64: Load); labels index it masked, without bounds checks
	copy(scores[:nc], sc.pairVec[r*nc:(r+1)*nc])
	present := sc.pairMask[r]
	cur := &t.entries[t.info(sc, i)]
	w := sc.words[i]
	fs := [3]int32{-1, -1, -1}
	if w != "" {
		suf := suffix3(w)
		kb := unsafe.Slice(unsafe.StringData(suf), len(suf))
		if f, ok := t.iSuffix.Find(kb); ok {
			fs[0] = f
		}
		fs[1], fs[2] = t.pref1[w[0]], cur.iWord
	}
	for _, tf := range t.tw[cur.tw0:cur.tw1] {
		if tf.tag == t1 {
			for _, lw := range t.ctxW[tf.off:tf.end] {
				scores[lw.label&63] += lw.w
			}
			present |= tf.mask
			break
		}
	}
	for _, f := range fs {
		if f < 0 {
			continue
		}
		for _, lw := range t.lw[t.offs[f]:t.offs[f+1]] {
			scores[lw.label&63] += lw.w
		}
		present |= t.fmask[f]
	}
	for role, j := range [4]int{ctxM1: i - 1, ctxM2: i - 2, ctxP1: i + 1, ctxP2: i + 2} {
		e := t.ctxEntry(sc, j)
		for _, lw := range t.ctxW[e.ctx[role]:e.ctx[role+1]] {
			scores[lw.label&63] += lw.w
		}
		present |= e.ctxMask[role]
	}
	best, class := math.Inf(-1), -1
	for m := present; m != 0; m &= m - 1 {
		if c := bits.TrailingZeros64(m); scores[c&63] > best {
			best, class = scores[c&63], c
		}
	}
	return class
}

// TagCaption returns the tokens of a (cleaned) caption and their tags, as
// prose's tokenizer and tagger give them.
func (t *Tagger) TagCaption(text string, sc *Scratch) (words, tags []string) {
	words, tags, _ = t.TagCaptionNeeded(text, sc, nil)
	return words, tags
}

// TagCaptionNeeded is TagCaption that may leave "" as the tag of a token
// for which needed (given the token's index and text) is false: the tags
// of the tokens it is true for are prose's, as in TagCaption. asked is
// true when needed was called once for each of the returned words, in
// order (else it may have been called for other words, or not at all, and
// every tag is computed).
func (t *Tagger) TagCaptionNeeded(text string, sc *Scratch, needed func(i int, word string) bool) (words, tags []string, asked bool) {
	if sc.tok == nil {
		sc.tok = &proseTok{emo: t.emo}
	}
	if sc.tok.tokenize(text) {
		var need []bool
		if needed != nil {
			sc.need = sc.need[:0]
			for i, w := range sc.tok.words {
				sc.need = append(sc.need, needed(i, w))
			}
			need = sc.need
			if !slices.Contains(need, true) {
				// No tag is asked for (no token could give a key): none
				// is computed. (Tags are only ever asked of the tokens the
				// tokenizer gives, which prose's emoticons do not change.)
				sc.tags = sc.tags[:0]
				for range sc.tok.words {
					sc.tags = append(sc.tags, "")
				}
				return sc.tok.words, sc.tags, true
			}
			// A repeated span reports its last occurrence's tags
			// (shareTags): a tag asked of an earlier one is asked of that.
			sc.tok.redirectNeed(need)
		}
		if tags, ok := t.Tag(sc.tok.words, sc, need); ok {
			sc.tok.shareTags(tags)
			return sc.tok.words, tags, need != nil
		}
	}
	// A possible emoticon: prose itself.
	full := proseDocument(text, t.emo.model)
	words, tags = sc.tok.words[:0], sc.tags[:0]
	for _, tk := range full.Tokens() {
		words = append(words, tk.Text)
		tags = append(tags, tk.Tag)
	}
	sc.tok.words, sc.tags = words, tags
	return words, tags, false
}

// proseSanitizer is the replacement prose's tokenizer applies first.
var proseSanitizer = strings.NewReplacer("\u201c", `"`, "\u201d", `"`, "\u2018", "'", "\u2019", "'", "&rsquo;", "'")
