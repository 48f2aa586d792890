// Package retrieval measures a CLIP-style model's zero-shot retrieval on a
// test set of images with several captions each, as the study computes it:
// unit embeddings compared by cosine; text→image, a caption is correct at k
// when its image is among the k images most similar to it; image→text, an
// image is correct at k when any of its captions is among the k captions
// most similar to it; a concept's recall@k is the mean over the captions
// (t2i) or the images (i2t) that hold it. The concepts are the nouns of the
// test set's captions (Concepts). It is plain Go; pipelines/eval
// --task=retrieval runs it.
package retrieval

import (
	"fmt"
	"math"
	"runtime"
	"sync"
)

// Ranks are where each caption's image and each image's best caption
// stand: T2I[c] is the number of images ranked ahead of caption c's own
// image, I2T[i] the number of captions ranked ahead of image i's
// best-ranked own caption. A query is correct at k when its rank < k.
//
// Ties are broken by index: of two candidates with the same similarity,
// the one with the smaller index ranks first (so a tie with the right
// answer counts against it only when the other candidate comes earlier in
// the test set's order: shard order, then sample order).
type Ranks struct {
	T2I []int
	I2T []int
}

// blockRows is how many captions' similarities to every image are held at
// once: the similarity matrix is never built whole (5,000 images × 25,000
// captions would be 500 MB of float32), only blocks of blockRows × images.
const blockRows = 256

// Rank computes the ranks. images and captions are unit embeddings of one
// width; owner[c] is caption c's image. Every image needs a caption.
func Rank(images, captions [][]float32, owner []int) (Ranks, error) {
	if len(captions) != len(owner) {
		return Ranks{}, fmt.Errorf("retrieval: %d captions, %d owners", len(captions), len(owner))
	}
	if len(images) == 0 || len(captions) == 0 {
		return Ranks{}, fmt.Errorf("retrieval: %d images and %d captions: nothing to rank", len(images), len(captions))
	}
	d := len(images[0])
	for _, e := range append(append([][]float32(nil), images...), captions...) {
		if len(e) != d {
			return Ranks{}, fmt.Errorf("retrieval: embeddings of widths %d and %d", d, len(e))
		}
	}
	own := make([][]int, len(images)) // image → its captions, in order
	for c, i := range owner {
		if i < 0 || i >= len(images) {
			return Ranks{}, fmt.Errorf("retrieval: caption %d belongs to image %d of %d", c, i, len(images))
		}
		own[i] = append(own[i], c)
	}
	for i, cs := range own {
		if len(cs) == 0 {
			return Ranks{}, fmt.Errorf("retrieval: image %d has no caption", i)
		}
	}
	// Each image's similarity to each of its own captions.
	ownSim := make([][]float32, len(images))
	for i, cs := range own {
		for _, c := range cs {
			ownSim[i] = append(ownSim[i], dot(images[i], captions[c]))
		}
	}
	r := Ranks{T2I: make([]int, len(captions)), I2T: make([]int, len(images))}
	// ahead[i][j]: captions ranked ahead of image i's j-th own caption,
	// summed over blocks (one slice per image; blocks update disjoint
	// captions but shared images, so per-worker partial sums are merged).
	workers := runtime.GOMAXPROCS(0)
	type partial struct{ ahead [][]int }
	parts := make([]partial, workers)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		parts[w].ahead = make([][]int, len(images))
		for i := range images {
			parts[w].ahead[i] = make([]int, len(own[i]))
		}
		wg.Add(1)
		go func(p *partial) {
			defer wg.Done()
			sims := make([]float32, len(images))
			for start := range next {
				for c := start; c < min(start+blockRows, len(captions)); c++ {
					q := captions[c]
					for i := range images {
						sims[i] = dot(images[i], q)
					}
					// t2i: images ahead of the caption's own.
					t := owner[c]
					st, n := sims[t], 0
					for i, s := range sims {
						if s > st || s == st && i < t {
							n++
						}
					}
					r.T2I[c] = n
					// i2t: caption c is ahead of image i's j-th caption cj
					// when it is more similar to i (ties: smaller index).
					for i, s := range sims {
						for j, cj := range own[i] {
							if cj != c && (s > ownSim[i][j] || s == ownSim[i][j] && c < cj) {
								p.ahead[i][j]++
							}
						}
					}
				}
			}
		}(&parts[w])
	}
	for start := 0; start < len(captions); start += blockRows {
		next <- start
	}
	close(next)
	wg.Wait()
	for i := range images {
		best := math.MaxInt
		for j := range own[i] {
			n := 0
			for w := range parts {
				n += parts[w].ahead[i][j]
			}
			best = min(best, n)
		}
		r.I2T[i] = best
	}
	return r, nil
}

func dot(a, b []float32) float32 {
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// Normalize scales v to unit length (a zero vector stays zero).
func Normalize(v []float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	if n == 0 {
		return v
	}
	inv := float32(1 / math.Sqrt(n))
	for i := range v {
		v[i] *= inv
	}
	return v
}

// Metrics are the six recall metrics, in output order.
var Metrics = []Metric{{"i2t", 1}, {"i2t", 5}, {"i2t", 10}, {"t2i", 1}, {"t2i", 5}, {"t2i", 10}}

// Metric is a direction and a k.
type Metric struct {
	Dir string // i2t or t2i
	K   int
}

// Name is the metric's name in the outputs (pipelines/fit's): i2t_recall@1.
func (m Metric) Name() string { return fmt.Sprintf("%s_recall@%d", m.Dir, m.K) }

// ConceptRecall is one concept's recall under one metric: the fraction of
// its N queries (captions for t2i, images for i2t) correct at k.
type ConceptRecall struct {
	Concept string
	Metric  string
	N       int
	Recall  float64
}

// Overall is the recall of every query under each metric, by name.
type Overall map[string]float64

// PerConcept computes every concept's recall under every metric from the
// ranks: captionConcepts[c] are caption c's concepts, imageConcepts[i]
// image i's (the union over its captions); concepts lists the concepts to
// report (those held by enough images), in output order.
func PerConcept(r Ranks, captionConcepts, imageConcepts [][]string, concepts []string) ([]ConceptRecall, Overall) {
	want := map[string]int{}
	for i, c := range concepts {
		want[c] = i
	}
	nT, nI := make([]int, len(concepts)), make([]int, len(concepts))
	hitT := make([][]int, len(concepts))
	hitI := make([][]int, len(concepts))
	for i := range concepts {
		hitT[i], hitI[i] = make([]int, len(Metrics)), make([]int, len(Metrics))
	}
	overall := Overall{}
	for _, met := range Metrics {
		ranks := r.T2I
		if met.Dir == "i2t" {
			ranks = r.I2T
		}
		hits := 0
		for _, rank := range ranks {
			if rank < met.K {
				hits++
			}
		}
		overall[met.Name()] = float64(hits) / float64(len(ranks))
	}
	for c, cs := range captionConcepts {
		for _, name := range cs {
			if k, ok := want[name]; ok {
				nT[k]++
				for m, met := range Metrics {
					if met.Dir == "t2i" && r.T2I[c] < met.K {
						hitT[k][m]++
					}
				}
			}
		}
	}
	for i, cs := range imageConcepts {
		for _, name := range cs {
			if k, ok := want[name]; ok {
				nI[k]++
				for m, met := range Metrics {
					if met.Dir == "i2t" && r.I2T[i] < met.K {
						hitI[k][m]++
					}
				}
			}
		}
	}
	var out []ConceptRecall
	for k, name := range concepts {
		for m, met := range Metrics {
			n, hit := nT[k], hitT[k][m]
			if met.Dir == "i2t" {
				n, hit = nI[k], hitI[k][m]
			}
			if n == 0 {
				continue
			}
			out = append(out, ConceptRecall{Concept: name, Metric: met.Name(), N: n, Recall: float64(hit) / float64(n)})
		}
	}
	return out, overall
}
