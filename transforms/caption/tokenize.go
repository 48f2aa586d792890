// Package caption turns captions into lemmas and matches them against a
// concept vocabulary. It is plain Go with no Beam inside; the Beam layer that
// uses it lives in transforms/count.
package caption

import (
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
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
	if !utf8.ValidString(caption) {
		caption = strings.ToValidUTF8(caption, " ")
	}
	if hasEntity(caption) {
		caption = html.UnescapeString(caption)
	}
	if strings.IndexByte(caption, '<') >= 0 {
		caption = stripTags(caption)
	}
	if strings.Contains(caption, "://") || strings.Contains(caption, "www.") {
		caption = stripURLs(caption)
	}
	return caption
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

// stripTags blanks out "<...>" spans that look like HTML tags: a '<'
// followed by a letter, '/' or '!' and closed by '>' before the next '<'.
func stripTags(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		if s[i] == '<' && i+1 < len(s) && (isASCIILetter(s[i+1]) || s[i+1] == '/' || s[i+1] == '!') {
			if end := strings.IndexAny(s[i+1:], "<>"); end >= 0 && s[i+1+end] == '>' {
				b.WriteByte(' ')
				i += end + 2
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// stripURLs blanks out whitespace-delimited words that are URLs: they
// contain "://" or start with "www.".
func stripURLs(s string) string {
	fields := strings.FieldsFunc(s, unicode.IsSpace)
	var b strings.Builder
	b.Grow(len(s))
	for _, f := range fields {
		lf := strings.ToLower(f)
		if strings.Contains(lf, "://") || strings.HasPrefix(strings.TrimLeft(lf, "(\"'[<"), "www.") {
			b.WriteByte(' ')
			continue
		}
		b.WriteString(f)
		b.WriteByte(' ')
	}
	return b.String()
}

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
