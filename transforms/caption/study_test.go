package caption_test

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/conceptfreq/conceptfreq/transforms/caption"
)

// The study's concept-side rule on the cases its released counts show.
func TestStudyPieces(t *testing.T) {
	for name, want := range map[string][]string{
		"T-shirt":             {"shirt"},
		"four-poster bed":     {"poster", "bed"},
		"slip-on shoe":        {"on", "shoe"},
		"Model B200":          {"model", "b200"},
		"kite (bird of prey)": {"kite", "bird", "of", ")"},
		"American_Coot":       {"american", "coot"},
		"Granny Smith":        {"granny", "smith"},
		"women":               {"woman"},
		"hot_dog":             {"hot", "dog"},
	} {
		if got := caption.StudyPieces(lem(t), name); !reflect.DeepEqual(got, want) {
			t.Errorf("StudyPieces(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestStudyIndexAndCount(t *testing.T) {
	v := vocab(t, "T-shirt\nfour-poster bed\nModel B200\nkite (bird of prey)\nbed\n")
	m, err := caption.NewStudyMatcher(v, lem(t))
	if err != nil {
		t.Fatal(err)
	}
	keys := m.Index("A red T-shirt and two beds in Paris, 2019")
	sort.Strings(keys)
	for _, want := range []string{"shirt", "bed", "Paris"} {
		if i := sort.SearchStrings(keys, want); i == len(keys) || keys[i] != want {
			t.Errorf("index %q lacks %q", keys, want)
		}
	}
	for _, k := range keys {
		if strings.ContainsAny(k, "0123456789,") {
			t.Errorf("index key %q has characters other than ASCII letters", k)
		}
	}
	// Masks: the T-shirt caption holds T-shirt's one piece, and bed of
	// four-poster bed (bit 1) and of bed.
	got := map[string]uint64{}
	for _, cm := range m.Masks("A red T-shirt and two beds in Paris", m.NewScratch(), nil) {
		got[v.Concepts[cm.Concept].Name] = cm.Mask
	}
	want := map[string]uint64{"T-shirt": 1, "four-poster bed": 2, "bed": 1}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("masks %v, want %v", got, want)
	}
	if _, err := caption.NewStudyMatcher(vocab(t, "car\tautomobile\n"), lem(t)); err == nil || !strings.Contains(err.Error(), "aliases are not part of the study") {
		t.Errorf("aliases in study mode: got %v", err)
	}
}

// StudyCount: pieces absent from the whole input are skipped; the count is
// the samples holding all present pieces; nothing present counts 0.
func TestStudyCount(t *testing.T) {
	for _, tc := range []struct {
		hist    map[uint64]int64
		count   int64
		present uint64
	}{
		{map[uint64]int64{0b01: 5, 0b10: 3, 0b11: 2}, 2, 0b11}, // both pieces present: only samples with both
		{map[uint64]int64{0b01: 5}, 5, 0b01},                   // piece 2 never seen: skipped
		{map[uint64]int64{}, 0, 0},                             // nothing present
		{map[uint64]int64{0b001: 4, 0b101: 1, 0b100: 7}, 1, 0b101},
	} {
		c, p := caption.StudyCount(tc.hist)
		if c != tc.count || p != tc.present {
			t.Errorf("StudyCount(%v) = %d, %b; want %d, %b", tc.hist, c, p, tc.count, tc.present)
		}
	}
}
