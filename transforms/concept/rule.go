package concept

import (
	"sync"

	"github.com/conceptfreq/conceptfreq/transforms/caption"
)

// Rule matches captions against a vocabulary by one of the match rules:
// all-words or phrase (with or without the noun filter), or the study's
// noun-index rule. One Rule serves every goroutine; each matches through
// its own Scratch. Nothing outside this file asks which rule it is.
type Rule interface {
	// NewScratch returns a goroutine's matching state.
	NewScratch() Scratch
}

// Scratch is one goroutine's state for matching with a Rule.
type Scratch interface {
	// Match appends what text matches to res.
	Match(text string, res *Result)
}

// Result is what one caption (or, appended, several) matched: the
// vocabulary indices of its concepts (all-words, phrase), or, for the study
// rule, the concept piece masks, resolved into counts once the whole input
// is known (caption.StudyCount). A caption fills one of the two.
type Result struct {
	Concepts []int
	Masks    []caption.ConceptMask
}

// reset empties r, keeping its buffers.
func (r *Result) reset() { r.Concepts, r.Masks = r.Concepts[:0], r.Masks[:0] }

// any reports whether r holds a match.
func (r *Result) any() bool { return len(r.Concepts) > 0 || len(r.Masks) > 0 }

// NewRule compiles the vocabulary v for the match rule and POS mode.
func NewRule(v *caption.Vocabulary, lem *caption.Lemmatizer, rule caption.Rule, pos caption.POS) (Rule, error) {
	if rule == caption.Study {
		m, err := caption.NewStudyMatcher(v, lem)
		if err != nil {
			return nil, err
		}
		return studyRule{m}, nil
	}
	m, err := caption.NewMatcher(v, lem, rule, pos)
	if err != nil {
		return nil, err
	}
	return MatcherRule(m), nil
}

// SharedRule is NewRule, built once per process for each vocabulary
// (by its content hash), rule and POS mode: a worker runs one DoFn instance
// per bundle thread, and a compiled rule (hundreds of MB for a vocabulary
// of 200,000 concepts, seconds to build) is read-only, so they share it.
// The last few are kept (maxSharedRules), so a process running many jobs
// does not keep every vocabulary it met.
func SharedRule(v *caption.Vocabulary, lem *caption.Lemmatizer, rule caption.Rule, pos caption.POS) (Rule, error) {
	key := sharedRuleKey{hash: v.Hash(), concepts: len(v.Concepts), rule: rule, pos: pos, lem: lem}
	return sharedRules.get(key, func() (Rule, error) { return NewRule(v, lem, rule, pos) })
}

const maxSharedRules = 4

type sharedRuleKey struct {
	hash     string
	concepts int
	rule     caption.Rule
	pos      caption.POS
	lem      *caption.Lemmatizer
}

type sharedRuleEntry struct {
	key   sharedRuleKey
	build func() (Rule, error)
}

// ruleCache is the process's compiled rules, the most recently used last.
// Every process builds its own from what its DoFns carry.
type ruleCache struct {
	mu      sync.Mutex
	entries []*sharedRuleEntry
}

var sharedRules = &ruleCache{}

func (c *ruleCache) get(key sharedRuleKey, build func() (Rule, error)) (Rule, error) {
	c.mu.Lock()
	var e *sharedRuleEntry
	for i, x := range c.entries {
		if x.key == key {
			e = x
			c.entries = append(append(c.entries[:i:i], c.entries[i+1:]...), x)
			break
		}
	}
	if e == nil {
		e = &sharedRuleEntry{key: key, build: sync.OnceValues(build)}
		if len(c.entries) == maxSharedRules {
			c.entries = c.entries[1:]
		}
		c.entries = append(c.entries, e)
	}
	c.mu.Unlock()
	return e.build()
}

// MatcherRule is the Rule of an all-words or phrase caption.Matcher.
func MatcherRule(m *caption.Matcher) Rule { return matcherRule{m} }

type matcherRule struct{ m *caption.Matcher }

func (r matcherRule) NewScratch() Scratch { return &matcherScratch{r.m, r.m.NewScratch()} }

type matcherScratch struct {
	m  *caption.Matcher
	sc *caption.Scratch
}

func (s *matcherScratch) Match(text string, res *Result) {
	res.Concepts = s.m.Match(text, s.sc, res.Concepts)
}

type studyRule struct{ m *caption.StudyMatcher }

func (r studyRule) NewScratch() Scratch { return &studyScratch{r.m, r.m.NewScratch()} }

type studyScratch struct {
	m  *caption.StudyMatcher
	sc *caption.StudyScratch
}

func (s *studyScratch) Match(text string, res *Result) {
	res.Masks = s.m.Masks(text, s.sc, res.Masks)
}
