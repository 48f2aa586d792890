package caption

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// find (hash and short-key compare in one pass) agrees with get on keys of
// every length, present and absent.
func TestLexiconFind(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte("abcdefghijklmnopqrstuvwxyzABC-'é\x00\xff")
	key := func() string {
		b := make([]byte, 1+r.IntN(40))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(b)
	}
	l := newLexicon()
	want := map[string]int32{}
	for i := 0; i < 5000; i++ {
		k := key()
		if _, dup := want[k]; !dup {
			want[k] = int32(i)
			l.put(k, int32(i))
		}
	}
	l.seal()
	for k, v := range want {
		if got, ok := l.find([]byte(k)); !ok || got != v {
			t.Fatalf("find(%q) = %d, %v; want %d", k, got, ok, v)
		}
	}
	absent := 0
	for i := 0; i < 20000; i++ {
		k := key()
		g, gok := l.get([]byte(k), hashKey([]byte(k)))
		f, fok := l.find([]byte(k))
		if g != f || gok != fok {
			t.Fatalf("%q: get %d %v, find %d %v", k, g, gok, f, fok)
		}
		if _, in := want[k]; !in {
			absent++
			if fok {
				t.Fatalf("find(%q) found a key never put", k)
			}
		}
	}
	if absent < 10000 {
		t.Fatalf("only %d absent keys probed", absent)
	}
	if _, ok := l.find(nil); ok {
		t.Fatal("find(empty) found a key")
	}
}

// appendWordRuns' ASCII path gives the runs the rune-by-rune path does.
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
