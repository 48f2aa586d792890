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
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/conceptfreq/conceptfreq/io/paths"
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
	// SharedKeys are the groups of concepts (names, in order) whose
	// spellings normalise to the same match key, e.g. "American coot" and
	// "American_Coot": each keeps its own row and the same count.
	SharedKeys [][]string
	// Dropped are lines that name a concept an earlier line named (a
	// warning, not an error): a name is a key, so such a line adds its
	// aliases to the earlier concept, or nothing when it has none new.
	Dropped []DroppedLine
}

// DroppedLine is a vocabulary line that names an earlier line's concept
// again: Merged lists the aliases it added to it.
type DroppedLine struct {
	Line, First int
	Name        string
	Merged      []string
}

func (d DroppedLine) String() string {
	if len(d.Merged) > 0 {
		return fmt.Sprintf("line %d names the concept %q of line %d again; its aliases %s are merged into it", d.Line, d.Name, d.First, strings.Join(d.Merged, "|"))
	}
	return fmt.Sprintf("line %d repeats the concept %q of line %d; dropped", d.Line, d.Name, d.First)
}

//go:embed default_concepts.txt
var defaultConcepts string

//go:embed retrieval_concepts.txt
var retrievalConcepts string

// Embedded vocabularies, by the name --concepts takes ("embedded:NAME").
const (
	// StudyVocabulary is the default: every distinct class-name string of
	// the study's classification datasets (the 18 it fits plus
	// imagenet-r), 3,204 spellings.
	StudyVocabulary = "embedded:study"
	// RetrievalVocabulary is the caption words of the study's coco and
	// flickr retrieval lists.
	RetrievalVocabulary = "embedded:study-retrieval"
)

// DefaultVocabularyName is the Source of DefaultVocabulary.
const DefaultVocabularyName = StudyVocabulary

// EmbeddedVocabularies lists the names Embedded takes.
var EmbeddedVocabularies = []string{StudyVocabulary, RetrievalVocabulary}

// DefaultVocabulary returns the built-in vocabulary: the downstream class
// names of the study (arXiv 2404.04125), one row per spelling.
func DefaultVocabulary() (*Vocabulary, error) { return Embedded(StudyVocabulary) }

// Embedded returns an embedded vocabulary by name (EmbeddedVocabularies).
func Embedded(name string) (*Vocabulary, error) {
	lem, err := English()
	if err != nil {
		return nil, err
	}
	switch name {
	case StudyVocabulary:
		return ParseVocabulary(strings.NewReader(defaultConcepts), name, lem)
	case RetrievalVocabulary:
		return ParseVocabulary(strings.NewReader(retrievalConcepts), name, lem)
	}
	return nil, fmt.Errorf("%w: no embedded vocabulary %q (have %s)", ErrVocabulary, name, strings.Join(EmbeddedVocabularies, ", "))
}

// LoadVocabulary reads a vocabulary file through read (beamfs.ReadAll for
// local and gs:// paths), an embedded one ("embedded:study-retrieval"), or
// returns DefaultVocabulary when path is empty.
func LoadVocabulary(ctx context.Context, read paths.ReadFunc, path string) (*Vocabulary, error) {
	if path == "" {
		return DefaultVocabulary()
	}
	if strings.HasPrefix(path, "embedded:") {
		return Embedded(path)
	}
	lem, err := English()
	if err != nil {
		return nil, err
	}
	b, err := read(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("caption: vocabulary %s: %w", path, err)
	}
	return ParseVocabulary(bytes.NewReader(b), path, lem)
}

// ParseVocabulary reads a vocabulary: one concept per line, "#" starts a
// comment line, blank lines are ignored. A line may be "concept<TAB>a1|a2"
// to give aliases. A name is a key: a line naming an earlier line's concept
// again (the same spelling) adds its aliases to it and is listed in
// Dropped, so every concept has one row. Distinct spellings keep their own
// rows: concepts that normalise to the same lemma sequence ("T-shirt" and
// "t-shirt") are listed in SharedKeys (they count the same samples). A
// concept with no words is an error.
func ParseVocabulary(r io.Reader, source string, lem *Lemmatizer) (*Vocabulary, error) {
	v := &Vocabulary{Source: source}
	byKey := map[string]int{}  // normalised key → index into groups
	var groups [][]string      // names by key, in order of first appearance
	byName := map[string]int{} // name → index into v.Concepts
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
		if first, dup := byName[name]; dup {
			prev := &v.Concepts[first]
			d := DroppedLine{Line: line, First: prev.Line, Name: name}
			for _, a := range c.Aliases {
				if a != name && !slices.Contains(prev.Aliases, a) {
					prev.Aliases = append(prev.Aliases, a)
					d.Merged = append(d.Merged, a)
				}
			}
			v.Dropped = append(v.Dropped, d)
			continue
		}
		byName[name] = len(v.Concepts)
		if g, ok := byKey[key]; ok {
			groups[g] = append(groups[g], name)
		} else {
			byKey[key] = len(groups)
			groups = append(groups, []string{name})
		}
		v.Concepts = append(v.Concepts, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s: line %d: %v", ErrVocabulary, source, line+1, err)
	}
	if len(v.Concepts) == 0 {
		return nil, fmt.Errorf("%w: %s: no concepts", ErrVocabulary, source)
	}
	for _, g := range groups {
		if len(g) > 1 {
			v.SharedKeys = append(v.SharedKeys, g)
		}
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
