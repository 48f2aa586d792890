package caption

import (
	"fmt"
	"math/bits"
	"strings"

	"github.com/conceptfreq/conceptfreq/transforms/caption/internal/lexicon"
	"github.com/conceptfreq/conceptfreq/transforms/caption/internal/postag"
)

// Rule says when a concept's words match a caption.
type Rule string

// Match rules.
const (
	// AllWords matches when every lemma of the concept occurs somewhere in
	// the caption, in any order (the study's rule).
	AllWords Rule = "all-words"
	// Phrase matches when the lemmas occur contiguously and in order.
	Phrase Rule = "phrase"
)

// POS selects which caption tokens can match.
type POS string

// POS modes.
const (
	// POSNone lets every token match.
	POSNone POS = "none"
	// POSNouns lets only tokens tagged as nouns or proper nouns match, as the
	// study kept spaCy's NOUN and PROPN.
	POSNouns POS = "nouns"
)

// ParseRule validates a --match value.
func ParseRule(s string) (Rule, error) {
	switch Rule(s) {
	case AllWords, Phrase, Study:
		return Rule(s), nil
	}
	return "", fmt.Errorf("caption: unknown match rule %q (want %q, %q or %q)", s, AllWords, Phrase, Study)
}

// ParsePOS validates a --pos value.
func ParsePOS(s string) (POS, error) {
	switch POS(s) {
	case POSNone, POSNouns:
		return POS(s), nil
	}
	return "", fmt.Errorf("caption: unknown POS mode %q (want %q or %q)", s, POSNone, POSNouns)
}

// flatVariant is a variant in the matcher's flat index: its concept and
// its words after the first, rest[off:off+n].
type flatVariant struct {
	concept, off, n int32
}

// variant is one spelling of a concept (its name or an alias) as lemma IDs.
type variant struct {
	concept int32
	words   []int32
}

// Matcher finds the vocabulary concepts a caption mentions. It is safe for
// concurrent use; each goroutine needs its own Scratch.
type Matcher struct {
	lem      *Lemmatizer
	rule     Rule
	pos      POS
	lemmaID  map[string]int32
	variants []variant
	// The variants by key word (the first for phrases, the rarest for
	// all-words: see NewMatcher), flat: lemma ID i keys the variants
	// first[firstOff[i]:firstOff[i+1]], whose other words are in rest.
	firstOff []int32
	first    []flatVariant
	rest     []int32
	nConcept int
	// followers lists, per concept matched, the later concepts with the
	// same spellings (same name and alias keys): matched once, counted for
	// each row.
	followers [][]int32
	// lex maps every lower-case token whose lemma is a concept word to
	// that lemma's ID; any other token is -1 without a lemmatiser call.
	lex *lexicon.Table
	// tagger is the POS tagger, with POSNouns.
	tagger *postag.Tagger
}

// NewMatcher compiles a vocabulary for matching.
func NewMatcher(v *Vocabulary, lem *Lemmatizer, rule Rule, pos POS) (*Matcher, error) {
	if _, err := ParseRule(string(rule)); err != nil {
		return nil, err
	}
	if rule == Study {
		return nil, fmt.Errorf("caption: the study rule has its own matcher (NewStudyMatcher)")
	}
	if _, err := ParsePOS(string(pos)); err != nil {
		return nil, err
	}
	m := &Matcher{lem: lem, rule: rule, pos: pos, lemmaID: map[string]int32{}, nConcept: len(v.Concepts), followers: make([][]int32, len(v.Concepts))}
	leaders := map[string]int32{}
	for ci, c := range v.Concepts {
		var keys []string
		for _, spelling := range append([]string{c.Name}, c.Aliases...) {
			keys = append(keys, NormalizeConcept(lem, spelling))
		}
		sig := strings.Join(keys, "\x00")
		if l, ok := leaders[sig]; ok {
			m.followers[l] = append(m.followers[l], int32(ci))
			continue
		}
		leaders[sig] = int32(ci)
		for _, spelling := range append([]string{c.Name}, c.Aliases...) {
			lemmas := lem.Lemmas(spelling)
			if len(lemmas) == 0 {
				return nil, fmt.Errorf("caption: concept %q: %q has no words", c.Name, spelling)
			}
			vr := variant{concept: int32(ci)}
			for _, l := range lemmas {
				id, ok := m.lemmaID[l]
				if !ok {
					id = int32(len(m.lemmaID))
					m.lemmaID[l] = id
				}
				vr.words = append(vr.words, id)
			}
			m.variants = append(m.variants, vr)
		}
	}
	lex, err := tokenLexicon(lem, m.lemmaID)
	if err != nil {
		return nil, err
	}
	m.lex = lex
	// Each variant is listed under one of its words, the "key": the first
	// for phrases (the match starts there); for all-words, where order does
	// not matter, the word fewest variants hold, so that a caption's common
	// words ("white", "man") do not each try every variant holding them.
	holders := make([]int, len(m.lemmaID))
	for _, vr := range m.variants {
		for _, w := range vr.words {
			holders[w]++
		}
	}
	byKey := make([][]int32, len(m.lemmaID))
	for vi := range m.variants {
		vr := &m.variants[vi]
		if rule == AllWords {
			best := 0
			for k, w := range vr.words {
				if holders[w] < holders[vr.words[best]] {
					best = k
				}
			}
			vr.words[0], vr.words[best] = vr.words[best], vr.words[0]
		}
		byKey[vr.words[0]] = append(byKey[vr.words[0]], int32(vi))
	}
	m.firstOff = make([]int32, 0, len(byKey)+1)
	for _, vis := range byKey {
		m.firstOff = append(m.firstOff, int32(len(m.first)))
		for _, vi := range vis {
			vr := m.variants[vi]
			m.first = append(m.first, flatVariant{concept: vr.concept, off: int32(len(m.rest)), n: int32(len(vr.words) - 1)})
			m.rest = append(m.rest, vr.words[1:]...)
		}
	}
	m.firstOff = append(m.firstOff, int32(len(m.first)))
	if pos == POSNouns {
		var err error
		if m.tagger, err = postag.Shared(); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Concepts is the number of concepts in the compiled vocabulary.
func (m *Matcher) Concepts() int { return m.nConcept }

// Scratch holds per-goroutine buffers for Match.
type Scratch struct {
	gen      uint32
	present  []uint32 // lemma ID → gen when present in the current caption
	matched  []uint32 // concept → gen when already matched
	seq      []int32
	scan     tokScan
	ascii    asciiScan
	clean    cleaner
	uniqueID []int32
	tag      *postag.Scratch
	wordIDs  []int32 // noun mode: the tagger's tokens' lemma IDs, token i's ending at wordEnd[i]
	wordEnd  []int
}

// NewScratch returns buffers sized for m.
func (m *Matcher) NewScratch() *Scratch {
	return &Scratch{present: make([]uint32, len(m.lemmaID)), matched: make([]uint32, m.nConcept),
		clean: cleaner{ents: map[string]string{}}}
}

// Match appends to dst the indices (in vocabulary order of first match) of
// the concepts that caption mentions, each at most once, and returns dst.
func (m *Matcher) Match(caption string, sc *Scratch, dst []int) []int {
	sc.gen++
	if sc.gen == 0 { // wrapped: clear stamps
		clear(sc.present)
		clear(sc.matched)
		sc.gen = 1
	}
	if m.rule == AllWords && m.pos == POSNone {
		if sc.ascii.tokens(caption) {
			return m.maskAllWords(sc, dst)
		}
		// A caption Clean would change takes the same path once cleaned
		// (the general one tokenizes the cleaned caption too).
		clean := sc.clean.clean(caption)
		if sc.ascii.tokens(clean) {
			return m.maskAllWords(sc, dst)
		}
		sc.seq = m.cleanSeq(clean, sc, sc.seq[:0])
	} else {
		sc.seq = m.lemmaSeq(caption, sc)
	}
	return m.matchSeq(sc, dst)
}

// matchSeq matches the lemma IDs in sc.seq (a new generation of sc).
func (m *Matcher) matchSeq(sc *Scratch, dst []int) []int {
	switch m.rule {
	case Phrase:
		for p, id := range sc.seq {
			if id < 0 {
				continue
			}
			for _, vr := range m.first[m.firstOff[id]:m.firstOff[id+1]] {
				if sc.matched[vr.concept] == sc.gen || p+1+int(vr.n) > len(sc.seq) {
					continue
				}
				ok := true
				for k, w := range m.rest[vr.off : vr.off+vr.n] {
					if sc.seq[p+1+k] != w {
						ok = false
						break
					}
				}
				if ok {
					sc.matched[vr.concept] = sc.gen
					dst = m.appendMatch(dst, vr.concept)
				}
			}
		}
	default: // AllWords
		sc.uniqueID = sc.uniqueID[:0]
		for _, id := range sc.seq {
			if id >= 0 && sc.present[id] != sc.gen {
				sc.present[id] = sc.gen
				sc.uniqueID = append(sc.uniqueID, id)
			}
		}
		return m.allWords(sc, dst)
	}
	return dst
}

// maskAllWords is allWords on the tokens sc.ascii holds: the caption's
// distinct concept words straight from the token masks, no sequence. An
// ASCII caption takes two passes: a call-free one that keeps the tokens the
// lexicon's filter lets through (and the long ones), with no branch on
// the filter's answer, then the lookups of those few.
func (m *Matcher) maskAllWords(sc *Scratch, dst []int) []int {
	a := &sc.ascii
	sc.uniqueID = sc.uniqueID[:0]
	l, pad := m.lex, a.pad
	if a.nonASCII {
		a.spans()
		for k, st := range a.starts {
			id, ok := asciiID(l, pad, int(st), int(a.ends[k]), sc.scan.buf, true)
			if ok {
				m.addWord(sc, id)
			}
		}
		return m.allWords(sc, dst)
	}
	for _, c := range filterTokens(l, a) {
		st, en := int(uint32(c)), int(c>>32)
		var id int32
		var ok bool
		if n := en - st; n <= 8 {
			w0, h := shortKey(pad, st, n)
			id, ok = l.LookupShort(h, n, w0, 0)
		} else {
			id, ok = asciiID(l, pad, st, en, sc.scan.buf, false)
		}
		if ok {
			m.addWord(sc, id)
		}
	}
	return m.allWords(sc, dst)
}

// filterTokens returns, in a.cand, the ASCII tokens of a (start | end<<32,
// in order) that are longer than 8 bytes or that the filter lets through.
// It walks the start and end masks together, the k-th end closing the k-th
// start. It is kept out of line, a leaf: the lookups' calls would crowd
// its loop's registers.
//
//go:noinline
func filterTokens(l *lexicon.Table, a *asciiScan) []uint64 {
	cand, pad, enW := a.cand, a.pad, a.enW
	filter, fmask := l.Filter()
	nc, we, em := 0, 0, uint64(0)
	if len(enW) > 0 {
		em = enW[0]
	}
	for ws, sm := range a.stW {
		for ; sm != 0; sm &= sm - 1 {
			st := ws*64 + bits.TrailingZeros64(sm)
			for em == 0 {
				we++
				em = enW[we]
			}
			en := we*64 + bits.TrailingZeros64(em) + 1
			em &= em - 1
			n := en - st
			// Longer tokens than 8 bytes are kept: shortKey's hash is not
			// theirs.
			_, h := shortKey(pad, st, n)
			b := h >> 20 & fmask
			keep := filter[b/64]>>(b%64)&1 | uint64(8-n)>>63
			cand[nc] = uint64(st) | uint64(en)<<32
			nc += int(keep)
		}
	}
	return cand[:nc]
}

// addWord records a concept word of the caption, once.
func (m *Matcher) addWord(sc *Scratch, id int32) {
	if sc.present[id] != sc.gen {
		sc.present[id] = sc.gen
		sc.uniqueID = append(sc.uniqueID, id)
	}
}

// allWords matches the all-words rule on the caption's distinct concept
// words (sc.uniqueID, marked in sc.present), in order of first occurrence.
func (m *Matcher) allWords(sc *Scratch, dst []int) []int {
	for _, id := range sc.uniqueID {
		for _, vr := range m.first[m.firstOff[id]:m.firstOff[id+1]] {
			if sc.matched[vr.concept] == sc.gen {
				continue
			}
			ok := true
			for _, w := range m.rest[vr.off : vr.off+vr.n] {
				if sc.present[w] != sc.gen {
					ok = false
					break
				}
			}
			if ok {
				sc.matched[vr.concept] = sc.gen
				dst = m.appendMatch(dst, vr.concept)
			}
		}
	}
	return dst
}

// appendMatch appends a matched concept and the concepts that share its
// spellings.
func (m *Matcher) appendMatch(dst []int, c int32) []int {
	dst = append(dst, int(c))
	for _, f := range m.followers[c] {
		dst = append(dst, int(f))
	}
	return dst
}

// lemmaSeq maps the caption to lemma IDs, -1 for tokens that are not in any
// concept (or, in noun mode, are not nouns).
func (m *Matcher) lemmaSeq(caption string, sc *Scratch) []int32 {
	seq := sc.seq[:0]
	if m.pos == POSNouns {
		ft := m.tagger
		if sc.tag == nil {
			sc.tag = &postag.Scratch{}
		}
		// A token's IDs first: only the tags of tokens with a concept word
		// (and the tags those depend on) are computed.
		sc.wordIDs, sc.wordEnd = sc.wordIDs[:0], sc.wordEnd[:0]
		needed := func(i int, w string) bool {
			start := len(sc.wordIDs)
			sc.wordIDs = m.appendIDs(sc.wordIDs, &sc.scan, Clean(w))
			sc.wordEnd = append(sc.wordEnd, len(sc.wordIDs))
			for _, id := range sc.wordIDs[start:] {
				if id >= 0 {
					return true
				}
			}
			return false
		}
		words, tags, lazy := ft.TagCaptionNeeded(Clean(caption), sc.tag, needed)
		for i, w := range words {
			if !isNounTag(tags[i]) {
				seq = append(seq, -1)
				continue
			}
			if lazy {
				start := 0
				if i > 0 {
					start = sc.wordEnd[i-1]
				}
				seq = append(seq, sc.wordIDs[start:sc.wordEnd[i]]...)
			} else {
				seq = m.appendIDs(seq, &sc.scan, Clean(w))
			}
		}
		return seq
	}
	if sc.ascii.tokens(caption) {
		return m.maskSeq(sc, seq)
	}
	return m.cleanSeq(sc.clean.clean(caption), sc, seq)
}

// cleanSeq is lemmaSeq of a caption already cleaned.
func (m *Matcher) cleanSeq(clean string, sc *Scratch, seq []int32) []int32 {
	if sc.ascii.tokens(clean) {
		return m.maskSeq(sc, seq)
	}
	return m.appendIDs(seq, &sc.scan, clean)
}

// maskSeq appends the IDs of the tokens sc.ascii found.
func (m *Matcher) maskSeq(sc *Scratch, seq []int32) []int32 {
	a := &sc.ascii
	a.spans()
	for k, st := range a.starts {
		id, ok := asciiID(m.lex, a.pad, int(st), int(a.ends[k]), sc.scan.buf, a.nonASCII)
		if !ok {
			id = -1
		}
		seq = append(seq, id)
	}
	return seq
}

// appendIDs appends the lemma ID of each token of s (-1: in no concept).
func (m *Matcher) appendIDs(seq []int32, sc *tokScan, s string) []int32 {
	sc.scan(s)
	for _, t := range sc.toks {
		id, ok := m.lex.Get(sc.bytes(t), t.h)
		if !ok {
			id = -1
		}
		seq = append(seq, id)
	}
	return seq
}

// tokenLexicon maps every lower-case token whose lemma has an ID in ids to
// that ID. A token outside the lemmatiser's dictionary is its own lemma, so
// the candidates are the dictionary's words and the lemmas themselves.
func tokenLexicon(lem *Lemmatizer, ids map[string]int32) (*lexicon.Table, error) {
	words, err := DictionaryWords()
	if err != nil {
		return nil, err
	}
	lex := lexicon.New()
	add := func(w string) {
		if id, ok := ids[lem.Lemma(w)]; ok {
			lex.Put(w, id)
		}
	}
	for l := range ids {
		if strings.ToLower(l) == l {
			add(l)
		}
	}
	for _, w := range words {
		add(w)
	}
	lex.Seal()
	return lex, nil
}

func isNounTag(tag string) bool { return strings.HasPrefix(tag, "NN") }

// Preload starts loading what rule and pos need beyond the lemmatiser
// (the part-of-speech tagger and prose's model, about half a second of
// CPU) on another goroutine, so that a local run's launch overlaps it; the
// matchers wait for it to finish.
func Preload(rule Rule, pos POS) {
	if rule == Study || pos == POSNouns {
		go postag.Shared()
	}
}
