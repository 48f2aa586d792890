package caption

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/conceptfreq/conceptfreq/transforms/caption/internal/lexicon"
	"github.com/conceptfreq/conceptfreq/transforms/caption/internal/postag"
)

// Study is the study's caption search rule (--match=study), as its
// released code applies it, with this project's tagger and lemmatiser in
// place of spaCy's:
//
//   - Caption side: only tokens tagged as nouns or proper nouns are indexed;
//     each becomes its lemma with every character other than ASCII letters
//     and spaces removed. Common-noun lemmas are lower case; a proper noun
//     keeps the token's case ("Paris"). Intra-word hyphens split tokens
//     ("T-shirt" gives "t" and "shirt"), as spaCy's tokenizer does.
//   - Concept side: the class name is lower-cased and split on runs of
//     whitespace and underscores; each piece is tokenised the caption way
//     (punctuation and hyphens split it) and the lemma of its last
//     sub-token stands for the piece ("four-poster" → "poster", "prey)" →
//     ")").
//   - A piece whose lemma is not a key of the caption index built over the
//     whole input is skipped; a sample counts for the concept when it holds
//     every remaining piece; a concept with no piece left counts 0.
//
// Because "the whole input" is only known at the end, the per-sample result
// is a bit mask per concept (which of its pieces the sample holds): masks
// compose over shards, workers and runs, and StudyCount turns their histogram
// into the count.
const Study Rule = "study"

// MaxStudyPieces is the most pieces a concept may have in study mode.
const MaxStudyPieces = 62

// StudyMatcher indexes captions and computes per-concept piece masks.
type StudyMatcher struct {
	lem     *Lemmatizer
	pieces  [][]string           // concept → piece lemmas (unfiltered)
	byPiece map[string][]pieceOf // piece lemma → the concepts and bits it stands for
	// Pieces by ID: pieceID maps a piece lemma to its index in byID.
	pieceID *lexicon.Table
	byID    [][]pieceOf
	// common maps the lower-case dictionary words whose common-noun key
	// (letters of the lemma) is a piece, or whose own letters are, to
	// their key's piece ID (lexicon.MaxValue: their key is no piece); any other
	// token is its own lemma.
	common *lexicon.Table
	// tagger is the POS tagger the noun index needs.
	tagger *postag.Tagger
}

type pieceOf struct {
	concept int32
	bit     uint64
}

// StudyPieces splits a concept name into its pieces' lemmas by the study's
// rule (see Study).
func StudyPieces(lem *Lemmatizer, name string) []string {
	var out []string
	for _, piece := range studySplit.Split(strings.ToLower(name), -1) {
		if piece == "" {
			continue
		}
		subs := subTokens(piece)
		if len(subs) == 0 {
			continue
		}
		last := subs[len(subs)-1]
		if isWordToken(last) {
			last = lem.Lemma(last)
		}
		out = append(out, last)
	}
	return out
}

var studySplit = regexp.MustCompile(`[_\s]+`)

// subTokens splits a piece as spaCy's tokenizer does for the cases that
// matter here, keeping punctuation: runs of letters and digits ("b200"
// stays one token), and every other non-space character on its own
// ("four-poster" → four, -, poster; "prey)" → prey, ")").
func subTokens(s string) []string {
	var out []string
	start, kind := -1, 0 // 1 letters and digits
	flush := func(end int) {
		if start >= 0 {
			out = append(out, s[start:end])
			start, kind = -1, 0
		}
	}
	for i, r := range s {
		k := 0
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) && kind == 1 {
			k = 1
		}
		if k != kind || k == 0 {
			flush(i)
		}
		switch {
		case k != 0 && start < 0:
			start, kind = i, k
		case k == 0 && !unicode.IsSpace(r):
			out = append(out, string(r))
		}
	}
	flush(len(s))
	return out
}

func isWordToken(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return true
		}
	}
	return false
}

// CheckStudyVocabulary reports why v cannot be counted by the study rule:
// a concept with aliases, or with more pieces than MaxStudyPieces. It is
// what NewStudyMatcher checks first, without building anything.
func CheckStudyVocabulary(v *Vocabulary, lem *Lemmatizer) error {
	for _, c := range v.Concepts {
		if len(c.Aliases) > 0 {
			return fmt.Errorf("caption: concept %q: aliases are not part of the study's rule (--match=study)", c.Name)
		}
		if ps := StudyPieces(lem, c.Name); len(ps) > MaxStudyPieces {
			return fmt.Errorf("caption: concept %q has %d pieces; the study rule handles at most %d", c.Name, len(ps), MaxStudyPieces)
		}
	}
	return nil
}

// NewStudyMatcher compiles a vocabulary for the study rule. Aliases are
// not part of the study's rule and are an error.
func NewStudyMatcher(v *Vocabulary, lem *Lemmatizer) (*StudyMatcher, error) {
	if err := CheckStudyVocabulary(v, lem); err != nil {
		return nil, err
	}
	m := &StudyMatcher{lem: lem, pieces: make([][]string, len(v.Concepts)), byPiece: map[string][]pieceOf{}, pieceID: lexicon.New()}
	for ci, c := range v.Concepts {
		ps := StudyPieces(lem, c.Name)
		m.pieces[ci] = ps
		seen := map[string]uint64{}
		for i, p := range ps {
			bit := uint64(1) << i
			if prev, dup := seen[p]; dup { // a repeated piece is one requirement
				bit = prev
			} else {
				seen[p] = bit
				m.byPiece[p] = append(m.byPiece[p], pieceOf{concept: int32(ci), bit: bit})
			}
		}
	}
	var err error
	if m.tagger, err = postag.Shared(); err != nil {
		return nil, err
	}
	words, err := DictionaryWords()
	if err != nil {
		return nil, err
	}
	ids := map[string]int32{}
	for p, of := range m.byPiece {
		if p == "" || len(p) > lexicon.MaxKey {
			continue // no token's letters give it
		}
		ids[p] = int32(len(m.byID))
		m.pieceID.Put(p, int32(len(m.byID)))
		m.byID = append(m.byID, of)
	}
	m.pieceID.Seal()
	m.common = lexicon.New()
	for _, w := range words {
		key := lettersOnly(lem.Lemma(w))
		_, isPiece := m.byPiece[key]
		if _, ownIsPiece := m.byPiece[lettersOnly(w)]; !isPiece && !ownIsPiece {
			continue // the fallback (its own letters) gives no piece either
		}
		idx := int32(lexicon.MaxValue) // no piece
		if id, ok := ids[key]; ok && isPiece {
			idx = id
		}
		m.common.Put(w, idx)
	}
	m.common.Seal()
	return m, nil
}

// commonKey is the piece ID of a lower-case token's common-noun key, when
// that is a piece (buf: scratch space).
func (m *StudyMatcher) commonKey(lower []byte, buf *[]byte) (int32, bool) {
	if id, ok := m.common.Find(lower); ok {
		return id, id != lexicon.MaxValue
	}
	// Not in the dictionary: the token is its own lemma.
	*buf = appendLetters((*buf)[:0], lower)
	return m.pieceID.Find(*buf)
}

// isKeyByte reports whether the study's key keeps c: an ASCII letter or a space.
func isKeyByte(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == ' ' }

// appendLetters appends the ASCII letters and spaces of s (lettersOnly).
func appendLetters[S string | []byte](dst []byte, s S) []byte {
	for i := 0; i < len(s); i++ {
		if isKeyByte(s[i]) {
			dst = append(dst, s[i])
		}
	}
	return dst
}

// Pieces returns concept c's piece lemmas.
func (m *StudyMatcher) Pieces(c int) []string { return m.pieces[c] }

// StudyScratch holds per-goroutine buffers.
type StudyScratch struct {
	gen   uint32
	stamp []uint32 // concept → gen when touched in the current caption
	mask  []uint64
	keys  map[string]struct{} // the caption's keys, when found without the piece IDs (index without asked)
	ids   []int32             // the caption's pieces, distinct (idStamp)
	idGen []uint32            // piece ID → gen when in ids
	subs  []string
	tag   *postag.Scratch
	// per tagger token, the IDs of its keys that are pieces, as a proper
	// and as a common noun: token i's end at properEnd[i], commonEnd[i]
	proper, common       []int32
	properEnd, commonEnd []int
	lower, letters       []byte
	touched              []int32
	needed               func(i int, text string) bool // index's callback, made once
}

// NewScratch returns buffers sized for m.
func (m *StudyMatcher) NewScratch() *StudyScratch {
	return &StudyScratch{stamp: make([]uint32, len(m.pieces)), mask: make([]uint64, len(m.pieces)), keys: map[string]struct{}{},
		idGen: make([]uint32, len(m.byID))}
}

// ConceptMask is one concept's pieces held by a caption.
type ConceptMask struct {
	Concept int
	Mask    uint64
}

// Masks appends to dst, for every concept with at least one piece in the
// caption's noun index, the bit mask of the pieces it holds.
func (m *StudyMatcher) Masks(caption string, sc *StudyScratch, dst []ConceptMask) []ConceptMask {
	sc.gen++
	if sc.gen == 0 {
		clear(sc.stamp)
		sc.gen = 1
	}
	m.index(caption, sc, true)
	for k := range sc.keys {
		if id, ok := m.pieceID.Find([]byte(k)); ok {
			sc.addID(id)
		}
	}
	sc.touched = sc.touched[:0]
	for _, id := range sc.ids {
		for _, p := range m.byID[id] {
			if sc.stamp[p.concept] != sc.gen {
				sc.stamp[p.concept] = sc.gen
				sc.mask[p.concept] = 0
				sc.touched = append(sc.touched, p.concept)
			}
			sc.mask[p.concept] |= p.bit
		}
	}
	for _, c := range sc.touched {
		dst = append(dst, ConceptMask{Concept: int(c), Mask: sc.mask[c]})
	}
	return dst
}

// Index returns the caption's index keys (sorted not guaranteed), for tests
// and inspection.
func (m *StudyMatcher) Index(caption string) []string {
	sc := m.NewScratch()
	sc.gen++
	m.index(caption, sc, false)
	out := make([]string, 0, len(sc.keys))
	for k := range sc.keys {
		out = append(out, k)
	}
	return out
}

// addID adds a piece to the caption's.
func (sc *StudyScratch) addID(id int32) {
	if sc.idGen[id] != sc.gen {
		sc.idGen[id] = sc.gen
		sc.ids = append(sc.ids, id)
	}
}

// index finds the caption's noun keys: the IDs of those that are pieces in
// sc.ids, or, where the tagger could not say which tokens it was asked
// about, every key in sc.keys. A token's keys under both readings (proper
// noun: letters of the token; common noun: letters of its lemma) are found
// first, and only the tags of tokens with a key that is some concept's
// piece (and the tags those depend on) are computed: the others cannot
// change a mask. Without onlyPieces every noun key is indexed (in keys)
// and every tag computed. sc.gen must be the caption's.
func (m *StudyMatcher) index(caption string, sc *StudyScratch, onlyPieces bool) {
	clear(sc.keys)
	sc.ids = sc.ids[:0]
	ft := m.tagger
	if sc.tag == nil {
		sc.tag = &postag.Scratch{}
	}
	sc.proper, sc.common, sc.properEnd, sc.commonEnd = sc.proper[:0], sc.common[:0], sc.properEnd[:0], sc.commonEnd[:0]
	if sc.needed == nil {
		sc.needed = func(i int, text string) bool {
			hit := false
			sc.subs = appendWordRuns(sc.subs[:0], text)
			for _, w := range sc.subs {
				sc.letters = appendLetters(sc.letters[:0], w)
				if id, ok := m.pieceID.Find(sc.letters); ok {
					sc.proper = append(sc.proper, id)
					hit = true
				}
				sc.lower = appendLower(sc.lower[:0], w)
				if id, ok := m.commonKey(sc.lower, &sc.letters); ok {
					sc.common = append(sc.common, id)
					hit = true
				}
			}
			sc.properEnd, sc.commonEnd = append(sc.properEnd, len(sc.proper)), append(sc.commonEnd, len(sc.common))
			return hit
		}
	}
	needed := sc.needed
	if !onlyPieces {
		needed = nil
	}
	words, tags, asked := ft.TagCaptionNeeded(Clean(caption), sc.tag, needed)
	for i, text := range words {
		proper := strings.HasPrefix(tags[i], "NNP")
		if !proper && !strings.HasPrefix(tags[i], "NN") {
			continue
		}
		if asked {
			// Only keys that are pieces were kept: the others touch no mask.
			keys, ends := sc.common, sc.commonEnd
			if proper {
				keys, ends = sc.proper, sc.properEnd
			}
			start := 0
			if i > 0 {
				start = ends[i-1]
			}
			for _, id := range keys[start:ends[i]] {
				sc.addID(id)
			}
			continue
		}
		sc.subs = appendWordRuns(sc.subs[:0], text)
		for _, w := range sc.subs {
			var key string
			if proper {
				key = lettersOnly(w)
			} else {
				key = lettersOnly(m.lem.Lemma(strings.ToLower(w)))
			}
			if key != "" {
				sc.keys[key] = struct{}{}
			}
		}
	}
}

// appendLower appends strings.ToLower(w) to dst.
func appendLower(dst []byte, w string) []byte {
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c >= utf8.RuneSelf {
			return append(dst[:0], strings.ToLower(w)...)
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// appendWordRuns appends the runs of letters and digits of s, case kept:
// a tagged token split at hyphens and other punctuation as spaCy splits it.
func appendWordRuns(dst []string, s string) []string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		start := -1
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
				if start < 0 {
					start = i
				}
			} else if start >= 0 {
				dst, start = append(dst, s[start:i]), -1
			}
		}
		if start >= 0 {
			dst = append(dst, s[start:])
		}
		return dst
	}
	return appendWordRunsRunes(dst, s)
}

// appendWordRunsRunes is appendWordRuns rune by rune.
func appendWordRunsRunes(dst []string, s string) []string {
	start, kind := -1, 0
	for i, r := range s {
		k := 0
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) && kind == 1 {
			k = 1
		}
		if k != kind {
			if start >= 0 {
				dst = append(dst, s[start:i])
			}
			start, kind = -1, 0
		}
		if k != 0 && start < 0 {
			start, kind = i, k
		}
	}
	if start >= 0 {
		dst = append(dst, s[start:])
	}
	return dst
}

// lettersOnly keeps ASCII letters and spaces (the study's
// re.sub('[^A-Za-z ]', ”, lemma)).
func lettersOnly(s string) string {
	for i := 0; i < len(s); i++ {
		if !isKeyByte(s[i]) {
			return string(appendLetters(make([]byte, 0, len(s)), s))
		}
	}
	return s
}

// StudyCount resolves a concept's count from the histogram of its piece
// masks over the whole input: the pieces present anywhere are the union of
// the masks; the count is the number of samples holding all of them, 0 when
// none is present.
func StudyCount(hist map[uint64]int64) (count int64, present uint64) {
	for mask, n := range hist {
		if n > 0 {
			present |= mask
		}
	}
	if present == 0 {
		return 0, 0
	}
	for mask, n := range hist {
		if mask&present == present {
			count += n
		}
	}
	return count, present
}
