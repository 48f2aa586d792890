package imagetag

import (
	"testing"

	"github.com/conceptfreq/conceptfreq/transforms/neardup"
)

// One index and searcher per process for the same test embeddings: the
// second worker takes the first's, and the last to give it back closes it
// (a release called twice counts once).
func TestNearCacheShares(t *testing.T) {
	nc := &nearCache{entries: map[string]*nearEntry{}}
	loads := 0
	load := func() (*nearEntry, error) {
		loads++
		return &nearEntry{index: &neardup.Index{Dim: 3}, searcher: &neardup.ORTSearcher{}}, nil
	}
	x1, s1, r1, err := nc.get("k", load)
	if err != nil {
		t.Fatal(err)
	}
	x2, s2, r2, err := nc.get("k", load)
	if err != nil {
		t.Fatal(err)
	}
	if loads != 1 || x1 != x2 || s1 != s2 {
		t.Fatalf("%d loads; shared index %v, searcher %v", loads, x1 == x2, s1 == s2)
	}
	r1()
	r1()
	if len(nc.entries) != 1 {
		t.Fatalf("released by one of two workers (twice): %d entries, want 1", len(nc.entries))
	}
	r2()
	if len(nc.entries) != 0 {
		t.Fatalf("released by both: %d entries, want 0", len(nc.entries))
	}
	if _, _, _, err := nc.get("k", load); err != nil || loads != 2 {
		t.Fatalf("after release: %d loads, %v; want a new load", loads, err)
	}
}
