package caption

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestWordRunsASCII(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const alphabet = "aZ09 -'.,_#x\t"
	for i := 0; i < 20000; i++ {
		b := make([]byte, r.IntN(20))
		for k := range b {
			b[k] = alphabet[r.IntN(len(alphabet))]
		}
		s := string(b)
		if got, want := appendWordRuns(nil, s), appendWordRunsRunes(nil, s); !slices.Equal(got, want) {
			t.Fatalf("%q: %q, rune by rune %q", s, got, want)
		}
	}
}

// classifyBlocks (assembly on amd64) and classifyGo agree with a byte-by-
// byte classification on random bytes, ASCII and not, at every length and
// alignment in a block.
func TestClassifyBlocks(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const alphabet = "aZz`{@[09/:;&<.w#\x00\x7f\x80\xc3\xa9\xff "
	impls := map[string]func(pad []byte, letter, digit, special []uint64) bool{
		"classifyBlocks": classifyBlocks, "classifyGo": classifyGo,
	}
	for i := 0; i < 5000; i++ {
		nw := 1 + r.IntN(4)
		pad := make([]byte, 64*nw+8)
		ascii := r.IntN(2) == 0
		for k := range pad[:64*nw] {
			c := alphabet[r.IntN(len(alphabet))]
			if ascii && c >= 0x80 {
				c = 'q'
			}
			pad[k] = c
		}
		var wantL, wantD, wantS [4]uint64
		wantHi := false
		for k, c := range pad[:64*nw] {
			bit := uint64(1) << (k % 64)
			switch {
			case c >= 0x80:
				wantHi = true
			case c|0x20 >= 'a' && c|0x20 <= 'z':
				wantL[k/64] |= bit
			case c >= '0' && c <= '9':
				wantD[k/64] |= bit
			case c == '&' || c == '<' || c == ':' || c == '.':
				wantS[k/64] |= bit
			}
		}
		for name, classify := range impls {
			l, d, s := make([]uint64, nw), make([]uint64, nw), make([]uint64, nw)
			hi := classify(pad, l, d, s)
			if hi != wantHi {
				t.Fatalf("%s(%q): non-ASCII %v, want %v", name, pad, hi, wantHi)
			}
			if !slices.Equal(s, wantS[:nw]) {
				t.Fatalf("%s(%q): special %x, want %x", name, pad, s, wantS[:nw])
			}
			if !slices.Equal(l, wantL[:nw]) || !slices.Equal(d, wantD[:nw]) {
				t.Fatalf("%s(%q): letters %x digits %x, want %x %x", name, pad, l, d, wantL[:nw], wantD[:nw])
			}
		}
	}
}

// asciiScan.cleanChanges, from the special bytes' masks, agrees with the
// rule it stands for (an entity, a tag or a URL marker) on the real
// captions, generated ones, and short strings around each marker.
func TestASCIIScanCleanChanges(t *testing.T) {
	caps := append(rawLAION(t), generatedCaptions(rawLAION(t), 20000, 11)...)
	for _, m := range []string{"&", "&a", "&#", "&9", "& ", "<", "://", ":/", ":", "www.", "ww.", "WWW.", "www", ".", "&é"} {
		for _, pre := range []string{"", "x", "ab ", strings.Repeat("y", 62), strings.Repeat("z", 63)} {
			caps = append(caps, pre+m, pre+m+" cat")
		}
	}
	var a asciiScan
	changes := 0
	for _, c := range caps {
		if !utf8.ValidString(c) {
			continue
		}
		want := hasEntity(c) || strings.IndexByte(c, '<') >= 0 || strings.Contains(c, "://") || strings.Contains(c, "www.")
		if want {
			changes++
		}
		if ok := a.tokens(c); ok == want {
			t.Fatalf("%q: tokens ok=%v, want %v (Clean changes it: %v)", c, ok, !want, want)
		}
	}
	if changes < 100 {
		t.Fatalf("only %d captions Clean would change: the test lacks cases", changes)
	}
}

// filterTokens keeps every token that is a concept word (the filter has no
// false negatives) and drops most others, on the real ASCII captions; -v
// logs the figures the README quotes (tokens, kept, concept words a
// caption).
func TestFilterTokensKeepsConceptWords(t *testing.T) {
	v, lem := defaults(t)
	m, err := NewMatcher(v, lem, AllWords, POSNone)
	if err != nil {
		t.Fatal(err)
	}
	var a asciiScan
	captions, tokens, kept, words := 0, 0, 0, 0
	for _, c := range rawLAION(t) {
		if !a.tokens(c) || a.nonASCII {
			continue
		}
		captions++
		keep := map[uint64]bool{}
		for _, k := range filterTokens(m.lex, &a) {
			keep[k] = true
		}
		a.spans()
		for i, st := range a.starts {
			tokens++
			k := uint64(st) | uint64(a.ends[i])<<32
			if keep[k] {
				kept++
			}
			if _, ok := asciiID(m.lex, a.pad, int(st), int(a.ends[i]), nil, false); ok {
				words++
				if !keep[k] {
					t.Fatalf("%q: concept word %q dropped by the filter", c, c[st:a.ends[i]])
				}
			}
		}
		if len(keep) > len(a.starts) {
			t.Fatalf("%q: kept %d of %d tokens", c, len(keep), len(a.starts))
		}
	}
	if kept >= tokens || words == 0 {
		t.Fatalf("kept %d of %d tokens, %d concept words: the filter is not exercised", kept, tokens, words)
	}
	f := func(n int) float64 { return float64(n) / float64(captions) }
	t.Logf("%d ASCII captions: %.1f tokens, %.1f kept, %.1f concept words a caption", captions, f(tokens), f(kept), f(words))
}
