package lexicon

import (
	"math/rand/v2"
	"testing"
)

// Find (hash and short-key compare in one pass) agrees with Get on keys of
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
	l := New()
	want := map[string]int32{}
	for i := 0; i < 5000; i++ {
		k := key()
		if _, dup := want[k]; !dup {
			want[k] = int32(i)
			l.Put(k, int32(i))
		}
	}
	l.Seal()
	for k, v := range want {
		if got, ok := l.Find([]byte(k)); !ok || got != v {
			t.Fatalf("find(%q) = %d, %v; want %d", k, got, ok, v)
		}
	}
	absent := 0
	for i := 0; i < 20000; i++ {
		k := key()
		g, gok := l.Get([]byte(k), HashKey([]byte(k)))
		f, fok := l.Find([]byte(k))
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
	if _, ok := l.Find(nil); ok {
		t.Fatal("find(empty) found a key")
	}
}
