package caption

import "slices"

// Nouns gives a caption's noun keys under the study's rule: the tokens
// tagged as nouns or proper nouns, a common noun as the letters of its
// lemma, a proper noun as its own letters (case kept) — the keys the study
// indexes captions by, and the concepts of a retrieval test set's captions.
type Nouns struct {
	m  *StudyMatcher
	sc *StudyScratch
}

// NewNouns returns a noun extractor (one goroutine's: it holds scratch).
func NewNouns(lem *Lemmatizer) (*Nouns, error) {
	m, err := NewStudyMatcher(&Vocabulary{}, lem)
	if err != nil {
		return nil, err
	}
	return &Nouns{m: m, sc: m.NewScratch()}, nil
}

// Keys returns the caption's distinct noun keys, sorted.
func (n *Nouns) Keys(caption string) []string {
	n.sc.gen++
	n.m.index(caption, n.sc, false)
	out := make([]string, 0, len(n.sc.keys))
	for k := range n.sc.keys {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
