package caption

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/conceptfreq/conceptfreq/io/files"
)

// ErrVocabulary is wrapped by every vocabulary parse error.
var ErrVocabulary = errors.New("caption: bad vocabulary")

// Concept is one vocabulary entry: the name as the user spelled it (kept for
// output) and optional aliases. A sample matches the concept when it matches
// the name or any alias; it is counted once.
type Concept struct {
	Name    string
	Aliases []string
	Line    int // 1-based line in the vocabulary file; 0 when built in code
}

// Vocabulary is an ordered list of concepts.
type Vocabulary struct {
	Source   string
	Concepts []Concept
}

//go:embed default_concepts.txt
var defaultConcepts string

// DefaultVocabularyName is the Source of DefaultVocabulary.
const DefaultVocabularyName = "embedded:default_concepts.txt"

// DefaultVocabulary returns the built-in vocabulary: the downstream class
// names of the study (arXiv 2404.04125), de-duplicated after normalisation.
func DefaultVocabulary() (*Vocabulary, error) {
	lem, err := English()
	if err != nil {
		return nil, err
	}
	return ParseVocabulary(strings.NewReader(defaultConcepts), DefaultVocabularyName, lem)
}

// LoadVocabulary reads a vocabulary file (local or gs://, through
// io/files), or returns DefaultVocabulary when path is empty.
func LoadVocabulary(ctx context.Context, path string) (*Vocabulary, error) {
	if path == "" {
		return DefaultVocabulary()
	}
	lem, err := English()
	if err != nil {
		return nil, err
	}
	b, err := files.ReadAll(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("caption: vocabulary %s: %w", path, err)
	}
	return ParseVocabulary(bytes.NewReader(b), path, lem)
}

// ParseVocabulary reads a vocabulary: one concept per line, "#" starts a
// comment line, blank lines are ignored. A line may be "concept<TAB>a1|a2"
// to give aliases. Concepts that normalise to the same lemma sequence are an
// error naming both lines, as is a concept with no words.
func ParseVocabulary(r io.Reader, source string, lem *Lemmatizer) (*Vocabulary, error) {
	v := &Vocabulary{Source: source}
	seen := map[string]int{} // normalised key → index in v.Concepts
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if line == 1 {
			text = strings.TrimPrefix(text, "\ufeff")
		}
		if !utf8.ValidString(text) {
			return nil, fmt.Errorf("%w: %s:%d: invalid UTF-8", ErrVocabulary, source, line)
		}
		trimmed := strings.TrimSpace(text)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		name, aliasField, hasAliases := strings.Cut(strings.TrimRight(text, " \r\n"), "\t")
		name = strings.TrimSpace(name)
		c := Concept{Name: name, Line: line}
		if hasAliases {
			for _, a := range strings.Split(aliasField, "|") {
				if a = strings.TrimSpace(a); a != "" {
					c.Aliases = append(c.Aliases, a)
				}
			}
		}
		if name == "" {
			return nil, fmt.Errorf("%w: %s:%d: empty concept name before tab", ErrVocabulary, source, line)
		}
		key := NormalizeConcept(lem, name)
		if key == "" {
			return nil, fmt.Errorf("%w: %s:%d: concept %q has no words to match", ErrVocabulary, source, line, name)
		}
		for _, a := range c.Aliases {
			if NormalizeConcept(lem, a) == "" {
				return nil, fmt.Errorf("%w: %s:%d: alias %q of %q has no words to match", ErrVocabulary, source, line, a, name)
			}
		}
		if j, dup := seen[key]; dup {
			prev := v.Concepts[j]
			return nil, fmt.Errorf("%w: %s:%d: concept %q duplicates %q on line %d (both normalise to %q)",
				ErrVocabulary, source, line, name, prev.Name, prev.Line, key)
		}
		seen[key] = len(v.Concepts)
		v.Concepts = append(v.Concepts, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s: line %d: %v", ErrVocabulary, source, line+1, err)
	}
	if len(v.Concepts) == 0 {
		return nil, fmt.Errorf("%w: %s: no concepts", ErrVocabulary, source)
	}
	return v, nil
}

// NormalizeConcept returns the lemma sequence of a concept name joined by
// single spaces: the form in which two concepts are the same concept.
func NormalizeConcept(lem *Lemmatizer, name string) string {
	return strings.Join(lem.Lemmas(name), " ")
}

// Names returns the concept names in vocabulary order.
func (v *Vocabulary) Names() []string {
	out := make([]string, len(v.Concepts))
	for i, c := range v.Concepts {
		out[i] = c.Name
	}
	return out
}

// Hash is a SHA-256 over the concepts and aliases in order, so runs over the
// same vocabulary can be recognised.
func (v *Vocabulary) Hash() string {
	h := sha256.New()
	for _, c := range v.Concepts {
		io.WriteString(h, c.Name)
		for _, a := range c.Aliases {
			io.WriteString(h, "\x1f"+a)
		}
		io.WriteString(h, "\n")
	}
	return hex.EncodeToString(h.Sum(nil))
}
