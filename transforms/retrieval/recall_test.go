package retrieval

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

func unit(v ...float32) []float32 { return Normalize(v) }

// A planted set with known answers: three images on the axes, a duplicate
// of image 0 (a tie the index rule breaks), captions pointing at their own
// image, at another one, or between two.
func TestRankPlanted(t *testing.T) {
	images := [][]float32{unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1), unit(1, 0, 0)}
	captions := [][]float32{
		unit(1, 0, 0),     // 0, image 0: its image ties with image 3, which comes later: rank 0
		unit(0, 1, 0),     // 1, image 1: rank 0
		unit(0, 1, 0.2),   // 2, image 2: image 1 is closer: rank 1
		unit(1, 0, 0),     // 3, image 3: ties with image 0, which comes first: rank 1
		unit(0.1, 0, 1),   // 4, image 2: image 2 first, images 0 and 3 tie next
		unit(0, 0.9, 0.1), // 5, image 0: images 1, 2 ahead, image 0 ties with image 3 (0 first): rank 2
	}
	owner := []int{0, 1, 2, 3, 2, 0}
	r, err := Rank(images, captions, owner)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 0, 1, 1, 0, 2}; !reflect.DeepEqual(r.T2I, want) {
		t.Errorf("t2i ranks %v, want %v", r.T2I, want)
	}
	// i2t: image 0's captions 0 and 5; caption 0 (sim 1) ties with caption
	// 3 (sim 1), 0 comes first: rank 0. Image 1: caption 1 first (sim 1):
	// rank 0. Image 2: captions 2 and 4; caption 4 (sim ≈ 0.995) is first:
	// rank 0. Image 3: caption 3 ties with caption 0 (sim 1), which comes
	// first: rank 1.
	if want := []int{0, 0, 0, 1}; !reflect.DeepEqual(r.I2T, want) {
		t.Errorf("i2t ranks %v, want %v", r.I2T, want)
	}
	capC := [][]string{{"dog"}, {"cat"}, {"cat", "dog"}, {"dog"}, {"bird"}, {"dog"}}
	imgC := [][]string{{"dog"}, {"cat"}, {"bird", "cat", "dog"}, {"dog"}}
	rec, overall := PerConcept(r, capC, imgC, []string{"bird", "cat", "dog"})
	got := map[string]float64{}
	for _, c := range rec {
		got[c.Concept+" "+c.Metric] = c.Recall
	}
	want := map[string]float64{
		// t2i@1: dog's captions 0, 2, 3, 5 → ranks 0, 1, 1, 2 → 1/4; cat's 1, 2 → 1/2; bird's 4 → 1.
		"dog t2i_recall@1": 0.25, "cat t2i_recall@1": 0.5, "bird t2i_recall@1": 1,
		"dog t2i_recall@5": 1, "cat t2i_recall@5": 1, "bird t2i_recall@5": 1,
		// i2t@1: dog's images 0, 2, 3 → ranks 0, 0, 1 → 2/3; cat's 1, 2 → 1; bird's 2 → 1.
		"dog i2t_recall@1": 2.0 / 3, "cat i2t_recall@1": 1, "bird i2t_recall@1": 1,
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || math.Abs(g-w) > 1e-12 {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, w)
		}
	}
	if overall["t2i_recall@1"] != 3.0/6 || overall["i2t_recall@1"] != 3.0/4 || overall["t2i_recall@10"] != 1 {
		t.Errorf("overall %v", overall)
	}
}

// Blocked, parallel ranking agrees with a brute-force one over the whole
// matrix on a random set larger than a block, with duplicated embeddings
// for ties.
func TestRankMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	vec := func() []float32 {
		v := make([]float32, 8)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return Normalize(v)
	}
	var images, captions [][]float32
	var owner []int
	for i := 0; i < 300; i++ {
		images = append(images, vec())
		if i%7 == 0 && i > 0 {
			images[i] = images[i-1] // a tie
		}
		for j := 0; j < 1+i%3; j++ {
			c := vec()
			if j == 0 && i%5 == 0 {
				c = images[i]
			}
			captions, owner = append(captions, c), append(owner, i)
		}
	}
	r, err := Rank(images, captions, owner)
	if err != nil {
		t.Fatal(err)
	}
	sim := func(i, c int) float32 { return dot(images[i], captions[c]) }
	for c := range captions {
		n := 0
		for i := range images {
			if sim(i, c) > sim(owner[c], c) || sim(i, c) == sim(owner[c], c) && i < owner[c] {
				n++
			}
		}
		if r.T2I[c] != n {
			t.Fatalf("caption %d: t2i rank %d, brute force %d", c, r.T2I[c], n)
		}
	}
	for i := range images {
		best := math.MaxInt
		for c := range captions {
			if owner[c] != i {
				continue
			}
			n := 0
			for c2 := range captions {
				if c2 != c && (sim(i, c2) > sim(i, c) || sim(i, c2) == sim(i, c) && c2 < c) {
					n++
				}
			}
			best = min(best, n)
		}
		if r.I2T[i] != best {
			t.Fatalf("image %d: i2t rank %d, brute force %d", i, r.I2T[i], best)
		}
	}
}

func TestRankRejectsBadInput(t *testing.T) {
	img := [][]float32{unit(1, 0)}
	for _, tc := range []struct {
		caps  [][]float32
		owner []int
	}{{nil, nil}, {[][]float32{unit(1, 0)}, []int{1}}, {[][]float32{unit(1, 0, 0)}, []int{0}}} {
		if _, err := Rank(img, tc.caps, tc.owner); err == nil {
			t.Errorf("%v %v: no error", tc.caps, tc.owner)
		}
	}
	if _, err := Rank([][]float32{unit(1, 0), unit(0, 1)}, [][]float32{unit(1, 0)}, []int{0}); err == nil {
		t.Error("an image without a caption: no error")
	}
}
