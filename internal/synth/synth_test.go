package synth_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/conceptfreq/conceptfreq/internal/synth"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
)

func TestGenerateLongTail(t *testing.T) {
	lem, _ := caption.English()
	v, err := caption.DefaultVocabulary()
	if err != nil {
		t.Fatal(err)
	}
	concepts := synth.PlantableConcepts(v, lem, 200)
	if len(concepts) != 200 {
		t.Fatalf("got %d plantable concepts, want 200", len(concepts))
	}
	dir := t.TempDir()
	truth, err := synth.Generate(synth.Config{Dir: dir, Shards: 2, SamplesPerShard: 2000, Seed: 7, Concepts: concepts})
	if err != nil {
		t.Fatal(err)
	}
	var onDisk synth.Truth
	b, err := os.ReadFile(filepath.Join(dir, "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &onDisk); err != nil || onDisk.Samples != 4000 {
		t.Fatalf("truth.json: %v, samples %d", err, onDisk.Samples)
	}
	counts := make([]int64, 0, len(concepts))
	for _, c := range concepts {
		counts = append(counts, truth.TextCounts[c])
	}
	sort.Slice(counts, func(i, j int) bool { return counts[i] > counts[j] })
	// Zipf(1.1): the head concept is far more frequent than the median one.
	if counts[0] < 20*max(counts[len(counts)/2], 1) {
		t.Errorf("not long-tailed: top %d, median %d", counts[0], counts[len(counts)/2])
	}
	for _, name := range []string{"00000.tar", "00001.tar", "vocabulary.txt"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	// Same seed, same data.
	again, _ := synth.Generate(synth.Config{Dir: t.TempDir(), Shards: 2, SamplesPerShard: 2000, Seed: 7, Concepts: concepts})
	for _, c := range concepts {
		if again.TextCounts[c] != truth.TextCounts[c] {
			t.Fatalf("%s: %d then %d with the same seed", c, truth.TextCounts[c], again.TextCounts[c])
		}
	}
}
