// Package caption turns captions into lemmas and matches them against a
// concept vocabulary. It is plain Go with no Beam inside; the Beam layer that
// uses it lives in transforms/count.
package caption

import (
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// Tokenize splits a caption into lower-case tokens the way spaCy's English
// tokenizer does for the purpose of concept matching: runs of letters (with
// their combining marks) form words, runs of digits form numbers, and
// everything else (spaces, hyphens, slashes, apostrophes, punctuation)
// separates tokens. HTML tags, HTML entities and URLs produce no words.
// "T-shirt" gives "t", "shirt"; "dog's" gives "dog", "s".
func Tokenize(caption string) []string {
	return AppendTokens(nil, caption)
}

// AppendTokens appends the tokens of caption to dst and returns it.
func AppendTokens(dst []string, caption string) []string {
	s := Clean(caption)
	start := -1
	kind := 0 // 1 letters, 2 digits
	flush := func(end int) {
		if start >= 0 {
			dst = append(dst, strings.ToLower(s[start:end]))
			start = -1
			kind = 0
		}
	}
	for i, r := range s {
		k := 0
		switch {
		case unicode.IsLetter(r):
			k = 1
		case unicode.Is(unicode.Mn, r) && kind == 1:
			k = 1 // combining mark continues a word
		case unicode.IsDigit(r):
			k = 2
		}
		if k != kind {
			flush(i)
		}
		if k != 0 && start < 0 {
			start, kind = i, k
		}
	}
	flush(len(s))
	return dst
}

// Clean removes what must not produce words: HTML tags, URLs, and HTML
// entities (decoded first, so "&amp;" does not become the word "amp").
// Invalid UTF-8 bytes become spaces.
func Clean(caption string) string {
	var c cleaner
	if out := c.clean(caption); out != caption {
		return strings.Clone(out)
	}
	return caption
}

// cleaner is Clean with reusable buffers: a matcher's Scratch cleans
// captions without allocating once each distinct HTML entity has been
// decoded once (ents caches html.UnescapeString per entity).
type cleaner struct {
	buf  [2][]byte
	ents map[string]string // nil: no cache
}

// maxEntities bounds a cleaner's entity cache; maxEntityLen the entities it
// caches (longer ones are decoded each time).
const (
	maxEntities  = 4096
	maxEntityLen = 40
)

// clean returns Clean(s), in one of c's buffers when it changes s: the
// result is valid until the next call.
func (c *cleaner) clean(s string) string {
	cur := -1 // the buffer s is in
	step := func(appendTo func([]byte, string) []byte) {
		cur = (cur + 1) % 2
		c.buf[cur] = appendTo(c.buf[cur][:0], s)
		s = unsafe.String(unsafe.SliceData(c.buf[cur]), len(c.buf[cur]))
	}
	if !utf8.ValidString(s) {
		step(appendValidUTF8)
	}
	if hasEntity(s) {
		step(c.appendUnescaped)
	}
	if strings.IndexByte(s, '<') >= 0 {
		step(appendStripTags)
	}
	if strings.Contains(s, "://") || strings.Contains(s, "www.") {
		step(appendStripURLs)
	}
	return s
}

// appendValidUTF8 appends s with each run of invalid UTF-8 bytes replaced
// by a space (strings.ToValidUTF8(s, " ")).
func appendValidUTF8(dst []byte, s string) []byte {
	invalid := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			if !invalid {
				dst = append(dst, ' ')
			}
			invalid = true
		} else {
			dst = append(dst, s[i:i+size]...)
			invalid = false
		}
		i += size
	}
	return dst
}

// appendUnescaped appends html.UnescapeString(s). An entity never reads
// past its '&', an optional '#', a run of ASCII letters and digits and an
// optional ';', so s is decoded one such span at a time, each through the
// cache.
func (c *cleaner) appendUnescaped(dst []byte, s string) []byte {
	for {
		i := strings.IndexByte(s, '&')
		if i < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:i]...)
		j := i + 1
		if j < len(s) && s[j] == '#' {
			j++
		}
		for j < len(s) && (isASCIILetter(s[j]) || s[j] >= '0' && s[j] <= '9') {
			j++
		}
		if j < len(s) && s[j] == ';' {
			j++
		}
		dst = append(dst, c.entity(s[i:j])...)
		s = s[j:]
	}
}

// entity is html.UnescapeString of one entity span, cached.
func (c *cleaner) entity(e string) string {
	if len(e) == 1 {
		return e // a lone '&'
	}
	if v, ok := c.ents[e]; ok {
		return v
	}
	v := html.UnescapeString(e)
	if c.ents != nil && len(c.ents) < maxEntities && len(e) <= maxEntityLen {
		c.ents[strings.Clone(e)] = v
	}
	return v
}

// hasEntity reports whether s may hold an HTML entity: an '&' followed by
// '#' or an ASCII letter or digit. Without one html.UnescapeString returns
// its input unchanged (but copies it).
func hasEntity(s string) bool {
	for {
		i := strings.IndexByte(s, '&')
		if i < 0 || i+1 >= len(s) {
			return false
		}
		if c := s[i+1]; c == '#' || c >= '0' && c <= '9' || isASCIILetter(c) {
			return true
		}
		s = s[i+1:]
	}
}

// appendStripTags appends s with "<...>" spans that look like HTML tags
// blanked out: a '<' followed by a letter, '/' or '!' and closed by '>'
// before the next '<' becomes one space.
func appendStripTags(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		if s[i] == '<' && i+1 < len(s) && (isASCIILetter(s[i+1]) || s[i+1] == '/' || s[i+1] == '!') {
			if end := strings.IndexAny(s[i+1:], "<>"); end >= 0 && s[i+1+end] == '>' {
				dst = append(dst, ' ')
				i += end + 2
				continue
			}
		}
		dst = append(dst, s[i])
		i++
	}
	return dst
}

// appendStripURLs appends the whitespace-delimited words of valid UTF-8 s,
// each followed by a space, with the words that are URLs (they contain
// "://" or, after leading ( " ' [ <, start with "www." in any case) as a
// single space.
func appendStripURLs(dst []byte, s string) []byte {
	start := -1
	for i := 0; i <= len(s); {
		r, size := rune(' '), 1
		if i < len(s) {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		if i < len(s) && !unicode.IsSpace(r) {
			if start < 0 {
				start = i
			}
		} else if start >= 0 {
			if f := s[start:i]; isURL(f) {
				dst = append(dst, ' ')
			} else {
				dst = append(append(dst, f...), ' ')
			}
			start = -1
		}
		i += size
	}
	return dst
}

// isURL reports whether a word is a URL for appendStripURLs. Lower-casing
// cannot make or break "://", and only 'W' lower-cases to 'w'.
func isURL(f string) bool {
	if strings.Contains(f, "://") {
		return true
	}
	f = strings.TrimLeft(f, "(\"'[<")
	return len(f) >= 4 && f[0]|0x20 == 'w' && f[1]|0x20 == 'w' && f[2]|0x20 == 'w' && f[3] == '.'
}

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
