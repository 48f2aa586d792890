package retrieval

import "slices"

// Concepts extracts a retrieval set's concepts as the study did: a
// caption's concepts are its noun keys (keys: caption.Nouns.Keys, the
// study rule's nouns and proper nouns as letters-only lemmas), an image's
// the union over its captions, and a concept is kept when at least
// minImages images hold it. captions[i] are image i's captions; the
// results are per caption (in image order, then caption order), per image,
// and the kept concepts sorted by name.
func Concepts(captions [][]string, keys func(string) []string, minImages int) (perCaption, perImage [][]string, kept []string) {
	images := map[string]int{}
	for _, cs := range captions {
		union := map[string]bool{}
		for _, c := range cs {
			k := keys(c)
			perCaption = append(perCaption, k)
			for _, w := range k {
				union[w] = true
			}
		}
		img := make([]string, 0, len(union))
		for w := range union {
			img = append(img, w)
			images[w]++
		}
		slices.Sort(img)
		perImage = append(perImage, img)
	}
	for w, n := range images {
		if n >= minImages {
			kept = append(kept, w)
		}
	}
	slices.Sort(kept)
	return perCaption, perImage, kept
}
