package postag

import (
	"strconv"
	"strings"
	"testing"

	"github.com/conceptfreq/conceptfreq/internal/shareddata"
)

// normalizeWord is prose's normalize.
func normalizeWord(word string) string {
	if word == "" {
		return word
	}
	first := word[:1]
	if strings.Contains(word, "-") && first != "-" {
		return "!HYPHEN"
	} else if _, err := strconv.Atoi(word); err == nil && len(word) == 4 {
		return "!YEAR"
	} else if _, err := strconv.Atoi(first); err == nil {
		return "!DIGITS"
	}
	return strings.ToLower(word)
}

// normEntry (byte-wise, no allocation for ASCII) gives the entry of prose's
// normalize for every token of the 10,000 real LAION captions (raw: the
// tokens cleaning would have changed are edge cases too) and some edge cases.
func TestNormEntry(t *testing.T) {
	ft, err := Shared()
	if err != nil {
		t.Fatal(err)
	}
	words := []string{"", "a", "-", "-abc", "a-b", "1-2", "1999", "+123", "-123", "+-12", "12345", "7up", "Éclair", "ÀB", "İstanbul", "HELLO", "Hello", "x"}
	tok := &proseTok{emo: ft.emo}
	for _, c := range shareddata.Captions(t, "laion-captions/test_10000.parquet") {
		if tok.tokenize(c) {
			words = append(words, tok.words...)
		}
	}
	sc := &Scratch{}
	for _, w := range words {
		if got, want := ft.normEntry(sc, w), ft.entryOf([]byte(normalizeWord(w))); got != want {
			t.Fatalf("%q: entry %d, prose's normalize %q gives %d", w, got, normalizeWord(w), want)
		}
	}
}
