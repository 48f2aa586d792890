package caption

import (
	"html"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// cleanOracle is Clean as the standard library writes it: the reference
// for the buffer-reusing cleaner.
func cleanOracle(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, " ")
	}
	if hasEntity(s) {
		s = html.UnescapeString(s)
	}
	if strings.IndexByte(s, '<') >= 0 {
		var b strings.Builder
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
		s = b.String()
	}
	if strings.Contains(s, "://") || strings.Contains(s, "www.") {
		var b strings.Builder
		for _, f := range strings.FieldsFunc(s, unicode.IsSpace) {
			lf := strings.ToLower(f)
			if strings.Contains(lf, "://") || strings.HasPrefix(strings.TrimLeft(lf, "(\"'[<"), "www.") {
				b.WriteByte(' ')
				continue
			}
			b.WriteString(f)
			b.WriteByte(' ')
		}
		s = b.String()
	}
	return s
}

// Clean and a Scratch's cleaner (entity cache cold and warm) give what the
// standard library does on the real captions, generated ones and random
// strings dense in entities, tags, URLs and invalid bytes.
func TestCleanerMatchesStdlib(t *testing.T) {
	real := rawLAION(t)
	caps := append(append([]string{}, real...), generatedCaptions(real, 20000, 12)...)
	r := rand.New(rand.NewPCG(13, 14))
	pieces := []string{"&", "&amp;", "&amp", "&ampx", "&lt;", "&gt", "&#", "&#39;", "&#x41;", "&#X1F600;", "&#12a;", "&#0;", "&#150;",
		"&#xD800;", "&notit;", "&notin;", "&nbsp;", "&zz;", "&;", ";", "#", "x", "A", "7", " ", "\t", "\u00a0", "<", ">", "</i>", "<b>",
		"<!-- c -->", "< b>", "://", "http://a.b/c", "www.", "WwW.x", "(www.a", "\"www.b", "é", "İ", "\xff", "\xc3", "\xe2\x82", "cat", "W"}
	for i := 0; i < 30000; i++ {
		var b strings.Builder
		for k := r.IntN(12); k >= 0; k-- {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		caps = append(caps, b.String())
	}
	c := cleaner{ents: map[string]string{}}
	changed := 0
	for round := 0; round < 2; round++ {
		for _, s := range caps {
			want := cleanOracle(s)
			if got := Clean(s); got != want {
				t.Fatalf("Clean(%q) = %q, want %q", s, got, want)
			}
			if got := c.clean(s); got != want {
				t.Fatalf("cleaner.clean(%q) = %q, want %q (round %d)", s, got, want, round)
			}
			if want != s {
				changed++
			}
		}
	}
	if changed < 10000 {
		t.Fatalf("only %d inputs changed by cleaning: the test lacks cases", changed)
	}
	if len(c.ents) == 0 || len(c.ents) > maxEntities {
		t.Fatalf("entity cache holds %d entries", len(c.ents))
	}
}

// FuzzCleaner holds the buffer-reusing cleaner to the standard library's
// Clean on any input.
func FuzzCleaner(f *testing.F) {
	for _, s := range []string{"fish &amp; chips &#39;s", "<b>x</b> https://a.b/c (WWW.x.y", "bad\xffbyte &ampx &#x1F600;", "a < b > c &notit;"} {
		f.Add(s)
	}
	c := cleaner{ents: map[string]string{}}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := c.clean(s), cleanOracle(s); got != want {
			t.Fatalf("cleaner.clean(%q) = %q, want %q", s, got, want)
		}
	})
}
