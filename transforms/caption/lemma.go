package caption

import (
	"fmt"
	"sync"

	"github.com/aaaton/golem/v4"
	"github.com/aaaton/golem/v4/dicts/en"
)

// LemmatizerName names the lemmatiser in run statistics.
const LemmatizerName = "golem/v4.0.2 dicts/en/v1.0.1 (context-free, first lemma)"

// Lemmatizer maps lower-case English words to one base form each, without
// context: "women" → "woman", "mice" → "mouse", "leaves" → "leaf",
// "dining" → "dine". Words it does not know are their own lemma.
// It is safe for concurrent use.
type Lemmatizer struct {
	g *golem.Lemmatizer
}

var (
	englishOnce sync.Once
	english     *Lemmatizer
	englishErr  error
)

// English returns the process-wide English lemmatiser, loading its
// dictionary on first use (about a second and 100 MB).
func English() (*Lemmatizer, error) {
	englishOnce.Do(func() {
		g, err := golem.New(en.New())
		if err != nil {
			englishErr = fmt.Errorf("caption: loading golem English dictionary: %w", err)
			return
		}
		english = &Lemmatizer{g: g}
	})
	return english, englishErr
}

// Lemma returns the lemma of a lower-case word.
func (l *Lemmatizer) Lemma(word string) string {
	// LemmaLower only reads the dictionary map; golem's Lemmas sorts a shared
	// slice in place and must not be called concurrently.
	return l.g.LemmaLower(word)
}

// Lemmas tokenizes text and lemmatises every token.
func (l *Lemmatizer) Lemmas(text string) []string {
	toks := Tokenize(text)
	for i, t := range toks {
		toks[i] = l.Lemma(t)
	}
	return toks
}
