package postag

import (
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/jdkato/prose/v2"
)

// proseTok is prose v2.0.0's word tokenizer (iterTokenizer), rewritten
// to allocate little: whitespace-delimited spans, each split by doSplit
// (opening $ ( " [ off the front, contractions 'll 's 're 'm n't, closing
// , ) " ] ! ; . ? : ' off the back), with prose's special tokens (initials
// such as "U.S.", abbreviations such as "Mr.") kept whole. It appends the
// tokens to words and, per token, its span index to spanOf; spans are the
// spans' texts, last reports whether the last span is the text's final one
// (prose splits that one afresh). ok is false when a token prose would
// check against its private emoticon list might be on it: the caller then
// asks prose.
type proseTok struct {
	emo        *emoticonProbe // prose's verdicts on possible emoticons
	words      []string
	spanOf     []int
	spans      []string
	suffs      []string
	fresh      int      // index of the span split afresh (the text's last), or -1
	first      []int    // shareTags: per span, its first token
	shared     [][2]int // repeated spans that give tokens, and their last occurrences
	sharedDone bool     // shared is the current text's
}

func isProseSpecial(tok string) bool {
	// ^(?:[A-Za-z]\.){2,}$
	if len(tok) >= 4 && len(tok)%2 == 0 {
		ok := true
		for i := 0; i < len(tok); i += 2 {
			c := tok[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') || tok[i+1] != '.' {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	// ^[A-Z][a-z]{1,2}\.$
	if n := len(tok); n >= 3 && n <= 4 && tok[0] >= 'A' && tok[0] <= 'Z' && tok[n-1] == '.' {
		for i := 1; i < n-1; i++ {
			if tok[i] < 'a' || tok[i] > 'z' {
				return false
			}
		}
		return true
	}
	return false
}

var (
	prosePrefixes = []string{"$", "(", `"`, "["}
	proseSuffixes = []string{",", ")", `"`, "]", "!", ";", ".", "?", ":", "'"}
	proseContract = []string{"'ll", "'s", "'re", "'m"}
	proseNot      = []string{"n't"}
)

func anyPrefix(s string, ps []string) bool {
	for _, p := range ps {
		if len(s) > len(p) && strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func anySuffix(s string, ps []string) bool {
	for _, p := range ps {
		if len(s) > len(p) && strings.HasSuffix(s, p) {
			return true
		}
	}
	return false
}

func anyIndex(s string, ps []string) int {
	for _, p := range ps {
		if idx := strings.Index(s, p); idx >= 0 && len(s) > len(p) {
			return idx
		}
	}
	return -1
}

// plainAlnum reports whether s is non-empty ASCII letters and digits only.
func plainAlnum(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func (pt *proseTok) add(s string, span int) {
	if strings.TrimSpace(s) != "" {
		pt.words = append(pt.words, s)
		pt.spanOf = append(pt.spanOf, span)
	}
}

// split is prose's doSplit for one span.
func (pt *proseTok) split(token string, span int) bool {
	if plainAlnum(token) && !maybeEmoticon(token) {
		// No prefix, contraction or suffix to split off, not special:
		// doSplit keeps it whole.
		pt.add(token, span)
		return true
	}
	pt.suffs = pt.suffs[:0]
	last := 0
	for token != "" && utf8.RuneCountInString(token) != last {
		if maybeEmoticon(token) && !pt.emo.not(token) {
			return false
		}
		if isProseSpecial(token) {
			pt.add(token, span)
			break
		}
		last = utf8.RuneCountInString(token)
		lower := token // only the contractions are matched on it, and each holds an apostrophe
		if strings.IndexByte(token, '\'') >= 0 {
			lower = strings.ToLower(token)
		}
		if anyPrefix(token, prosePrefixes) {
			pt.add(token[:1], span) // an ASCII prefix
			token = token[1:]
		} else if idx := anyIndex(lower, proseContract); idx > -1 {
			pt.add(token[:idx], span)
			token = token[idx:]
		} else if idx := anyIndex(lower, proseNot); idx > -1 {
			pt.add(token[:idx], span)
			token = token[idx:]
		} else if anySuffix(token, proseSuffixes) {
			pt.suffs = append(pt.suffs, token[len(token)-1:]) // an ASCII suffix
			token = token[:len(token)-1]
		} else {
			pt.add(token, span)
		}
	}
	for i := len(pt.suffs) - 1; i >= 0; i-- {
		pt.add(pt.suffs[i], span)
	}
	return true
}

// asciiSpace is unicode.IsSpace for ASCII.
var asciiSpace = [utf8.RuneSelf]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// tokenize is prose's iterTokenizer.tokenize; false means "ask prose".
func (pt *proseTok) tokenize(text string) bool {
	pt.words, pt.spanOf, pt.spans, pt.fresh, pt.sharedDone = pt.words[:0], pt.spanOf[:0], pt.spans[:0], -1, false
	clean := text
	// (U+2018, U+2019, U+201C and U+201D all begin with the byte 0xE2.)
	if strings.IndexByte(text, '&') >= 0 || strings.IndexByte(text, 0xE2) >= 0 {
		clean = proseSanitizer.Replace(text)
	}
	white := false
	start, index := 0, 0
	for index <= len(clean) {
		var uc rune
		var size int
		var space bool
		if index < len(clean) && clean[index] < utf8.RuneSelf {
			uc, size = rune(clean[index]), 1
			space = asciiSpace[clean[index]]
		} else {
			uc, size = utf8.DecodeRuneInString(clean[index:])
			space = unicode.IsSpace(uc)
		}
		if size == 0 {
			break
		} else if index == 0 {
			white = space
		}
		if space != white {
			if start < index {
				pt.spans = append(pt.spans, clean[start:index])
				if !pt.split(clean[start:index], len(pt.spans)-1) {
					return false
				}
			}
			if uc == ' ' {
				start = index + 1
			} else {
				start = index
			}
			white = !white
		}
		index += size
	}
	if start < index {
		pt.spans = append(pt.spans, clean[start:index])
		pt.fresh = len(pt.spans) - 1
		if !pt.split(clean[start:index], pt.fresh) {
			return false
		}
	}
	return true
}

// shareTags reproduces a quirk of prose's tokenizer: it caches the tokens
// of each whitespace-delimited span, so repeated spans share their token
// objects, and the tag prose reports for every occurrence is the one given
// to the last occurrence (the text's last span is split afresh and shares
// nothing). It rewrites tags in place.
func (pt *proseTok) shareTags(tags []string) {
	pt.eachShared(func(dst, src int) {
		copy(tags[pt.first[dst]:pt.first[dst+1]], tags[pt.first[src]:pt.first[src+1]])
	})
}

// redirectNeed moves each need of a token of a repeated span (the text's
// last aside) to the same token of the span's last occurrence, whose tag
// shareTags reports for it.
func (pt *proseTok) redirectNeed(need []bool) {
	pt.eachShared(func(dst, src int) {
		for k := 0; k < pt.first[dst+1]-pt.first[dst]; k++ {
			if need[pt.first[dst]+k] {
				need[pt.first[dst]+k], need[pt.first[src]+k] = false, true
			}
		}
	})
}

// eachShared calls f for each span dst that repeats later (the text's last
// span aside), with src its last occurrence; pt.first holds, per span, its
// first token. The pairs are found once per text (findShared).
func (pt *proseTok) eachShared(f func(dst, src int)) {
	if !pt.sharedDone {
		pt.findShared()
	}
	for _, p := range pt.shared {
		f(p[0], p[1])
	}
}

// findShared lists the repeated spans and their last occurrences.
func (pt *proseTok) findShared() {
	pt.sharedDone, pt.shared = true, pt.shared[:0]
	if len(pt.words) < 2 || !pt.repeats() {
		return // no span repeats: no token is shared
	}
	// first[si]: span si's first token; its tokens are first[si]:first[si+1]
	// (spanOf is in span order; a span may give no token).
	pt.first = pt.first[:0]
	i := 0
	for si := 0; si <= len(pt.spans); si++ {
		for i < len(pt.spanOf) && pt.spanOf[i] < si {
			i++
		}
		pt.first = append(pt.first, i)
	}
	// Each occurrence of a repeated span (the fresh one aside) shares the
	// tokens of the last occurrence: the same text splits into the same tokens.
	for si := range pt.spans {
		if si == pt.fresh {
			continue
		}
		for sj := len(pt.spans) - 1; sj > si; sj-- {
			if sj != pt.fresh && pt.spans[sj] == pt.spans[si] {
				if pt.first[si] < pt.first[si+1] {
					pt.shared = append(pt.shared, [2]int{si, sj})
				}
				break
			}
		}
	}
}

// repeats reports whether a whitespace-delimited span (other than the
// text's last) occurs twice: then tokens share their tags (shareTags).
func (pt *proseTok) repeats() bool {
	for i := 0; i < len(pt.spans); i++ {
		for j := i + 1; j < len(pt.spans); j++ {
			if i != pt.fresh && j != pt.fresh && pt.spans[i] == pt.spans[j] && strings.TrimSpace(pt.spans[i]) != "" {
				return true
			}
		}
	}
	return false
}

// emoticonProbe asks prose's own tokenizer and tagger whether a token
// that might be one of prose's (private) emoticons is one, and caches the
// answers. It belongs to the fast tagger (one per process, shared by its
// goroutines, hence the lock); the cache is bounded: a crawl's unique
// tokens must not grow it without end.
type emoticonProbe struct {
	model *prose.Model
	mu    sync.Mutex
	m     map[string]bool
}

const maxNotEmoticons = 1 << 16

// not reports whether prose's own behaviour proves tok is not on its
// emoticon list: prose keeps an emoticon whole and always tags it SYM, so a
// candidate it splits, or tags otherwise in some context, is not one. (A
// candidate kept whole and tagged SYM in both probes stays a candidate.)
func (e *emoticonProbe) not(tok string) bool {
	e.mu.Lock()
	v, ok := e.m[tok]
	e.mu.Unlock()
	if ok {
		return v
	}
	not := false
	for _, text := range []string{"the " + tok + " is", tok} {
		doc := proseDocument(text, e.model)
		toks := doc.Tokens()
		whole := false
		for _, tk := range toks {
			if tk.Text == tok {
				whole = true
				if tk.Tag != "SYM" {
					not = true
				}
			}
		}
		if !whole {
			not = true
		}
	}
	e.mu.Lock()
	if e.m == nil || len(e.m) >= maxNotEmoticons {
		e.m = map[string]bool{}
	}
	e.m[strings.Clone(tok)] = not
	e.mu.Unlock()
	return not
}

// proseDocument runs prose's tokenizer and tagger (no segmentation, no
// entities) over text with model. prose v2's NewDocument has no error path
// (its pipeline error is never set): a non-nil one would be a changed
// prose, which the tagger's tests against prose would catch; it panics
// rather than tag a caption wrongly.
func proseDocument(text string, model *prose.Model) *prose.Document {
	doc, err := prose.NewDocument(text, prose.UsingModel(model), prose.WithSegmentation(false), prose.WithExtraction(false))
	if err != nil {
		panic(fmt.Sprintf("caption: prose's NewDocument returned an error it never returns: %v", err))
	}
	return doc
}
