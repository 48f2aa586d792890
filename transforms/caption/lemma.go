package caption

import (
	"fmt"
	"strings"
	"sync"
	"unicode"

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

// English returns the process-wide English lemmatiser, loading its
// dictionary on first use (about a second and 100 MB).
func English() (*Lemmatizer, error) { return english() }

var english = sync.OnceValues(func() (*Lemmatizer, error) {
	g, err := golem.New(en.New())
	if err != nil {
		return nil, fmt.Errorf("caption: loading golem English dictionary: %w", err)
	}
	return &Lemmatizer{g: g}, nil
})

// Lemma returns the lemma of a lower-case word. Numbers are not words:
// golem's dictionary maps "third" to "3" and "first" to "\ufeff1", so a
// concept "third" would match every caption with a 3. A number is its own
// lemma, and a word is never lemmatised into a number.
func (l *Lemmatizer) Lemma(word string) string {
	if isNumber(word) {
		return word
	}
	lemma := l.g.LemmaLower(word)
	if strings.IndexFunc(lemma, func(r rune) bool { return unicode.IsDigit(r) || r == '\ufeff' }) >= 0 {
		return word
	}
	return lemma
}

// Lemmas tokenizes text and lemmatises every token.
func (l *Lemmatizer) Lemmas(text string) []string {
	toks := Tokenize(text)
	for i, t := range toks {
		toks[i] = l.Lemma(t)
	}
	return toks
}

// isNumber reports whether word is a run of digits (the tokenizer's number
// tokens).
func isNumber(word string) bool {
	if word == "" {
		return false
	}
	for _, r := range word {
		if !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// DictionaryWords returns every lower-case word of the lemmatiser's
// dictionary (the words whose lemma may differ from themselves). A word not
// in it is its own lemma, so the words that lemmatise to a given set of
// lemmas are these words' preimages plus the lemmas themselves: that is what
// lets a matcher precompute every token that can match.
func DictionaryWords() ([]string, error) { return dictionaryWords() }

var dictionaryWords = sync.OnceValues(func() ([]string, error) {
	b, err := en.New().GetResource() // 646 kB: decompressing it again costs a few ms, once
	if err != nil {
		return nil, err
	}
	var words []string
	seen := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		for _, w := range strings.Split(line, "\t") {
			if w != "" && !seen[w] && strings.ToLower(w) == w {
				seen[w] = true
				words = append(words, w)
			}
		}
	}
	return words, nil
})
