package caption

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"math"
	"math/bits"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/jdkato/prose/v2"
	"github.com/mingrammer/commonregex"
)

// posTagger is prose's averaged-perceptron POS tagger (prose v2.0.0,
// model/AveragedPerceptron) with a faster inference path and the same
// tags: the model's weights are read once into a table indexed by feature
// key, each token's 14 feature keys are built in a reused buffer and
// looked up without allocating, and the per-class scores are summed into a
// fixed array. prose sums the same weights in map order and breaks exact
// ties at random; here the order is fixed, so a tag could differ only on a
// tie to the last bit (none in the 10,000 LAION captions: TestFastTagger).
//
// Captions holding a token that might be one of prose's emoticons (its
// list is private) are tagged by prose itself.
type posTagger struct {
	bias    int32 // the "bias" feature
	classes []string
	tagMap  map[string]string
	feats   map[string]int32 // feature key → index into offs
	offs    []int32          // feature f's weights are lw[offs[f]:offs[f+1]]
	lw      []labelWeight
	fmask   []uint64 // feature f's labels as a bit set
}

// labelWeight is one class weight of a feature.
type labelWeight struct {
	w     float64
	label int32
}

var (
	fastTaggerOnce sync.Once
	fastTaggerM    *posTagger
	fastTaggerErr  error
)

// fastTagger loads the model once per process.
func fastTagger() (*posTagger, error) {
	fastTaggerOnce.Do(func() {
		fastTaggerM, fastTaggerErr = loadPOSTagger()
	})
	return fastTaggerM, fastTaggerErr
}

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

func loadPOSTagger() (*posTagger, error) {
	t := &posTagger{}
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
	t.fmask = make([]uint64, len(t.offs)-1)
	for f := range t.fmask {
		for _, lw := range t.lw[t.offs[f]:t.offs[f+1]] {
			t.fmask[f] |= 1 << lw.label
		}
	}
	t.bias = -1
	if f, ok := t.feats["bias"]; ok {
		t.bias = f
	}
	return t, nil
}

// tagScratch holds one goroutine's buffers and its cache of per-word
// feature IDs (words repeat across captions; the cache is bounded).
type tagScratch struct {
	ctx         []string
	key         []byte
	scores      []float64
	tags        []string
	words       map[string]*wordFeats
	oldWords    map[string]*wordFeats // the previous generation of words
	predictions int64                 // tags predicted so far (for tests and benchmarks)
	need        []bool                // tags to compute (tagCaptionNeeded; tag marks what they depend on)
	infos       []*wordFeats
	tok         *proseTok
	tagIDs      map[string]int32   // tag → index into the tag-feature tables
	tagFeat     [][3]int32         // per tag index: "i-1 tag", "i-2 tag", pair row
	pairs       map[[2]int32]int32 // (i-1 tag, i-2 tag) → index into pairVec
	// pairVec holds, per pair of previous tags, the sum of the weights of
	// "i-1 tag", "i-2 tag" and "i tag+i-2 tag", dense over the classes.
	pairVec  []float64
	pairMask []uint64
}

// wordFeats are the IDs (-1: not in the model) of the features a word
// gives, by its role around the token being tagged.
type wordFeats struct {
	norm                                  string    // prose's normalize(word)
	iWord, m1Word, p1Word, m2Word, p2Word int32     // "i word", "i-1 word", ... of norm
	iSuffix, pref1                        int32     // of the word itself
	m1Suffix, p1Suffix                    int32     // of norm
	m1TagWord                             []tagFeat // "i-1 tag+i word" by tag index, filled as met
	fixed                                 string    // the word's tag when it does not depend on context (fixedTag), else ""
	// own is the sum of the weights of the features the word gives as the
	// token tagged (bias, suffix, first letter, word), dense over the
	// classes, filled at the word's first prediction; ownMask the classes
	// they weigh.
	own     []float64
	ownMask uint64
	// ctx holds, per role as a neighbour of the token tagged (ctxM1: the
	// word before it, ctxM2, ctxP1, ctxP2), the weights of the features it
	// gives there, merged per class; ctxMask their classes.
	ctx     [4][]labelWeight
	ctxMask [4]uint64
}

// Roles of a context word.
const (
	ctxM1 = iota // "i-1 word", "i-1 suffix"
	ctxM2        // "i-2 word"
	ctxP1        // "i+1 word", "i+1 suffix"
	ctxP2        // "i+2 word"
)

// setContext merges the word's context features per role.
func (t *posTagger) setContext(wf *wordFeats) {
	var acc [64]float64
	for role, fs := range [4][2]int32{ctxM1: {wf.m1Word, wf.m1Suffix}, ctxM2: {wf.m2Word, -1}, ctxP1: {wf.p1Word, wf.p1Suffix}, ctxP2: {wf.p2Word, -1}} {
		var mask uint64
		for _, f := range fs {
			if f < 0 {
				continue
			}
			for _, lw := range t.lw[t.offs[f]:t.offs[f+1]] {
				acc[lw.label] += lw.w
			}
			mask |= t.fmask[f]
		}
		var lws []labelWeight
		for m := mask; m != 0; m &= m - 1 {
			c := bits.TrailingZeros64(m)
			lws = append(lws, labelWeight{w: acc[c], label: int32(c)})
			acc[c] = 0
		}
		wf.ctx[role], wf.ctxMask[role] = lws, mask
	}
}

type tagFeat struct{ tag, feat int32 }

const maxCachedWords = 1 << 15 // per scratch; a crawl's unique words must not grow it without end

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

// normalizeWord is prose's normalize.
func normalizeWord(word string) string {
	if word == "" {
		return word
	}
	first := word[:1]
	if strings.Contains(word, "-") && first != "-" {
		return "!HYPHEN"
	} else if _, err := strconv.Atoi(word); err == nil && len(word) == 4 {
		return "!YEAR"
	} else if _, err := strconv.Atoi(first); err == nil {
		return "!DIGITS"
	}
	return strings.ToLower(word)
}

// tag tags the words as prose's tagger would; ok is false when a word
// might be an emoticon (the caller then asks prose itself). With need
// (nil: every tag), only the tags need asks for and those they depend on
// are computed (need is marked with the latter); the others are "".
func (t *posTagger) tag(words []string, sc *tagScratch, need []bool) (tags []string, ok bool) {
	for _, w := range words {
		if maybeEmoticon(w) && !notEmoticon(w) {
			return nil, false
		}
	}
	if sc.words == nil || len(sc.words) > maxCachedWords {
		// Two generations: the words met since the last turn stay, so the
		// frequent ones are not recomputed, and memory stays bounded.
		sc.oldWords, sc.words = sc.words, map[string]*wordFeats{}
	}
	sc.infos = sc.infos[:0]
	for _, w := range words {
		sc.infos = append(sc.infos, t.wordInfo(sc, w))
	}
	if len(sc.scores) < len(t.classes) {
		sc.scores = make([]float64, len(t.classes))
	}
	// Tags that do not depend on the tags before them first; "" marks the
	// ones to predict.
	sc.tags = sc.tags[:0]
	for _, inf := range sc.infos {
		sc.tags = append(sc.tags, inf.fixed)
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
		p1, p2 := "-START-", "-START2-"
		switch {
		case i >= 2:
			p1, p2 = sc.tags[i-1], sc.tags[i-2]
		case i == 1:
			p1, p2 = sc.tags[0], "-START-"
		}
		sc.tags[i] = t.predict(i, sc, words[i], p1, p2)
		sc.predictions++
	}
	return sc.tags, true
}

// fixedTag is a word's tag when it does not depend on the words before:
// prose's special cases and its tag map; "" otherwise.
func (t *posTagger) fixedTag(word string) string {
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

// lookup returns the ID of the feature whose key is the parts joined by
// spaces, or -1.
func (t *posTagger) lookup(sc *tagScratch, parts ...string) int32 {
	sc.key = sc.key[:0]
	for k, p := range parts {
		if k > 0 {
			sc.key = append(sc.key, ' ')
		}
		sc.key = append(sc.key, p...)
	}
	if f, ok := t.feats[string(sc.key)]; ok {
		return f
	}
	return -1
}

func suffix3(s string) string { return s[len(s)-min(len(s), 3):] }

// wordInfo returns (and caches) a word's feature IDs.
func (t *posTagger) wordInfo(sc *tagScratch, w string) *wordFeats {
	if wf, ok := sc.words[w]; ok {
		return wf
	}
	if wf, ok := sc.oldWords[w]; ok {
		sc.words[w] = wf
		return wf
	}
	w = strings.Clone(w) // kept in the cache: must not point into the caller's buffer
	norm := normalizeWord(w)
	wf := &wordFeats{norm: norm,
		iWord: t.lookup(sc, "i word", norm), m1Word: t.lookup(sc, "i-1 word", norm), p1Word: t.lookup(sc, "i+1 word", norm),
		m2Word: t.lookup(sc, "i-2 word", norm), p2Word: t.lookup(sc, "i+2 word", norm),
		m1Suffix: t.lookup(sc, "i-1 suffix", suffix3(norm)), p1Suffix: t.lookup(sc, "i+1 suffix", suffix3(norm)),
		iSuffix: -1, pref1: -1}
	if w != "" {
		wf.iSuffix = t.lookup(sc, "i suffix", suffix3(w))
		wf.pref1 = t.lookup(sc, "i pref1", string(rune(w[0])))
	}
	wf.fixed = t.fixedTag(w)
	t.setContext(wf)
	sc.words[w] = wf
	return wf
}

// boundary are the context words outside the caption.
var boundary = map[string]bool{"-START-": true, "-START2-": true, "-END-": true, "-END2-": true}

// ctxInfo returns the features of the context word at position j of the
// caption (negative or past the end: the -START-/-END- markers).
func (t *posTagger) ctxInfo(sc *tagScratch, j int) *wordFeats {
	if j >= 0 && j < len(sc.infos) {
		return sc.infos[j]
	}
	var m string
	switch j {
	case -2:
		m = "-START-"
	case -1:
		m = "-START2-"
	default:
		if j == len(sc.infos) {
			m = "-END-"
		} else {
			m = "-END2-"
		}
	}
	if wf, ok := sc.words["\x00"+m]; ok {
		return wf
	}
	if wf, ok := sc.oldWords["\x00"+m]; ok {
		sc.words["\x00"+m] = wf
		return wf
	}
	wf := &wordFeats{norm: m,
		iWord: t.lookup(sc, "i word", m), m1Word: t.lookup(sc, "i-1 word", m), p1Word: t.lookup(sc, "i+1 word", m),
		m2Word: t.lookup(sc, "i-2 word", m), p2Word: t.lookup(sc, "i+2 word", m),
		m1Suffix: t.lookup(sc, "i-1 suffix", suffix3(m)), p1Suffix: t.lookup(sc, "i+1 suffix", suffix3(m)),
		iSuffix: -1, pref1: -1}
	t.setContext(wf)
	sc.words["\x00"+m] = wf
	return wf
}

// tagFeats returns a tag's index and its "i-1 tag" and "i-2 tag" feature IDs.
func (t *posTagger) tagFeats(sc *tagScratch, tag string) (int32, [3]int32) {
	if sc.tagIDs == nil {
		sc.tagIDs = map[string]int32{}
		sc.pairs = map[[2]int32]int32{}
	}
	id, ok := sc.tagIDs[tag]
	if !ok {
		id = int32(len(sc.tagFeat))
		sc.tagIDs[tag] = id
		sc.tagFeat = append(sc.tagFeat, [3]int32{t.lookup(sc, "i-1 tag", tag), t.lookup(sc, "i-2 tag", tag), -1})
	}
	return id, sc.tagFeat[id]
}

// predict is prose's featurize + predict for token i (the context window
// is the words two either side, with -START-/-END- markers).
// addDense adds the weights of features fs (-1: none) to the dense v and
// their classes to mask.
func (t *posTagger) addDense(v []float64, mask *uint64, fs ...int32) {
	for _, f := range fs {
		if f < 0 {
			continue
		}
		for _, lw := range t.lw[t.offs[f]:t.offs[f+1]] {
			v[lw.label] += lw.w
		}
		*mask |= t.fmask[f]
	}
}

func (t *posTagger) predict(i int, sc *tagScratch, w, p1, p2 string) string {
	// prose: i = min(len(ctx)-2, i+2) on the padded context, which is i+2
	// for every token: the window is tokens i-2 .. i+2.
	cur, prev, next := sc.infos[i], t.ctxInfo(sc, i-1), t.ctxInfo(sc, i+1)
	prev2, next2 := t.ctxInfo(sc, i-2), t.ctxInfo(sc, i+2)
	t1, f1 := t.tagFeats(sc, p1)
	t2, f2 := t.tagFeats(sc, p2)
	nc := len(t.classes)
	pair, ok := sc.pairs[[2]int32{t1, t2}]
	if !ok {
		pair = int32(len(sc.pairMask))
		sc.pairs[[2]int32{t1, t2}] = pair
		v := make([]float64, nc)
		var m uint64
		t.addDense(v, &m, f1[0], f2[1], t.lookup(sc, "i tag+i-2 tag", p1, p2))
		sc.pairVec = append(sc.pairVec, v...)
		sc.pairMask = append(sc.pairMask, m)
	}
	tagWord := int32(-2)
	for _, tf := range cur.m1TagWord {
		if tf.tag == t1 {
			tagWord = tf.feat
			break
		}
	}
	if tagWord == -2 {
		tagWord = t.lookup(sc, "i-1 tag+i word", p1, cur.norm)
		cur.m1TagWord = append(cur.m1TagWord, tagFeat{t1, tagWord})
	}
	if cur.own == nil {
		cur.own = make([]float64, nc)
		t.addDense(cur.own, &cur.ownMask, t.bias, cur.iSuffix, cur.pref1, cur.iWord)
	}
	// The token's own features and the previous tags' come summed; the
	// rest are added weight by weight. (prose sums the same weights in map
	// order; the grouping changes the last bits only, and no tag of the
	// 10,000 LAION captions: TestFastTaggerMatchesProse.)
	scores := sc.scores[:nc]
	pv := sc.pairVec[int(pair)*nc : int(pair+1)*nc]
	for c, x := range cur.own {
		scores[c] = x + pv[c]
	}
	present := cur.ownMask | sc.pairMask[pair]
	if tagWord >= 0 {
		for _, lw := range t.lw[t.offs[tagWord]:t.offs[tagWord+1]] {
			scores[lw.label] += lw.w
		}
		present |= t.fmask[tagWord]
	}
	for k, wf := range [4]*wordFeats{ctxM1: prev, ctxM2: prev2, ctxP1: next, ctxP2: next2} {
		for _, lw := range wf.ctx[k] {
			scores[lw.label] += lw.w
		}
		present |= wf.ctxMask[k]
	}
	best, class := math.Inf(-1), -1
	for c, s := range scores {
		if present&(1<<c) != 0 && s > best {
			best, class = s, c
		}
	}
	if class < 0 {
		return ""
	}
	return t.classes[class]
}

// tagCaption returns the tokens of a (cleaned) caption and their tags, as
// prose's tokenizer and tagger give them.
func (t *posTagger) tagCaption(text string, sc *tagScratch) (words, tags []string) {
	words, tags, _ = t.tagCaptionNeeded(text, sc, nil)
	return words, tags
}

// tagCaptionNeeded is tagCaption that may leave "" as the tag of a token
// for which needed (given the token's index and text) is false: the tags
// of the tokens it is true for are prose's, as in tagCaption. asked is
// true when needed was called once for each of the returned words, in
// order (else it may have been called for other words, or not at all, and
// every tag is computed).
func (t *posTagger) tagCaptionNeeded(text string, sc *tagScratch, needed func(i int, word string) bool) (words, tags []string, asked bool) {
	if sc.tok == nil {
		sc.tok = &proseTok{}
	}
	if sc.tok.tokenize(text) {
		var need []bool
		if needed != nil && !sc.tok.repeats() {
			// (A repeated span reports its last occurrence's tags, so a
			// caption with one is tagged whole.)
			sc.need = sc.need[:0]
			for i, w := range sc.tok.words {
				sc.need = append(sc.need, needed(i, w))
			}
			need = sc.need
		}
		if tags, ok := t.tag(sc.tok.words, sc, need); ok {
			sc.tok.shareTags(tags)
			return sc.tok.words, tags, need != nil
		}
	}
	// A possible emoticon: prose itself.
	model, err := posModel()
	if err != nil {
		return nil, nil, false
	}
	full, err := prose.NewDocument(text, prose.UsingModel(model), prose.WithSegmentation(false), prose.WithExtraction(false))
	if err != nil {
		return nil, nil, false
	}
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

func utf8DecodeRune(s string) (rune, int) { return utf8.DecodeRuneInString(s) }
func unicodeIsSpace(r rune) bool          { return unicode.IsSpace(r) }
