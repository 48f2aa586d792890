// Package neardup finds, for each pretraining image embedding, the most
// similar image of the downstream test sets (exact cosine similarity), the
// core of similarity control: counting concepts without the samples that
// nearly duplicate a test image. Search is a matrix product of a batch of
// query embeddings with every test embedding, done in blocks: in plain Go
// (GoSearcher, the reference) or through ONNX Runtime (ORTSearcher: its
// GEMM on the CPU, or the GPU with the run's device).
//
// The count job's embedding tagger runs it on every tagged image
// (--near_duplicates): see docs/similarity.md.
package neardup

import (
	"errors"
	"fmt"
	"math"
)

// Index holds the test sets' image embeddings, unit-normalised, one row
// each, with the dataset, sample key and label (class or concept) of each.
type Index struct {
	Dim     int
	Vectors []float32 // len(Key) × Dim, row-major
	Dataset []string
	Key     []string
	Label   []string
}

// ErrVector is returned for an embedding that cannot be used.
var ErrVector = errors.New("neardup: unusable embedding")

// Add appends one test embedding, normalised to unit length.
func (x *Index) Add(dataset, key, label string, v []float32) error {
	if x.Dim == 0 {
		x.Dim = len(v)
	}
	if len(v) != x.Dim || len(v) == 0 {
		return fmt.Errorf("%w: %s %s has %d dimensions, the index %d", ErrVector, dataset, key, len(v), x.Dim)
	}
	var ss float64
	for _, f := range v {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return fmt.Errorf("%w: %s %s holds %v", ErrVector, dataset, key, f)
		}
		ss += float64(f) * float64(f)
	}
	if ss == 0 {
		return fmt.Errorf("%w: %s %s is all zeros", ErrVector, dataset, key)
	}
	inv := 1 / math.Sqrt(ss)
	for _, f := range v {
		x.Vectors = append(x.Vectors, float32(float64(f)*inv))
	}
	x.Dataset = append(x.Dataset, dataset)
	x.Key = append(x.Key, key)
	x.Label = append(x.Label, label)
	return nil
}

// Len is the number of test embeddings.
func (x *Index) Len() int { return len(x.Key) }

// Match is a query's nearest test embedding: its row in the Index and the
// cosine similarity. Index is -1 for an empty index.
type Match struct {
	Index      int
	Similarity float32
}

// Searcher finds each query's nearest test embedding. Queries are n rows
// of Dim values (normalised by Nearest: any length but zero); ties go to
// the lowest index.
type Searcher interface {
	Nearest(queries []float32, n int, out []Match) error
}

// normalised copies the queries with unit rows into dst.
func normalised(q []float32, n, d int, dst []float32) ([]float32, error) {
	if len(q) != n*d {
		return nil, fmt.Errorf("neardup: %d query values, want %d×%d", len(q), n, d)
	}
	dst = append(dst[:0], q...)
	for i := 0; i < n; i++ {
		row := dst[i*d : (i+1)*d]
		var ss float64
		for _, f := range row {
			ss += float64(f) * float64(f)
		}
		if ss == 0 || math.IsNaN(ss) || math.IsInf(ss, 0) {
			return nil, fmt.Errorf("%w: query %d has norm² %v", ErrVector, i, ss)
		}
		inv := float32(1 / math.Sqrt(ss))
		for j := range row {
			row[j] *= inv
		}
	}
	return dst, nil
}

// better reports whether similarity s at row i beats the best so far.
func better(s float32, i int, best Match) bool {
	return best.Index < 0 || s > best.Similarity || (s == best.Similarity && i < best.Index)
}

// GoSearcher searches in plain Go: the test embeddings in blocks of Block
// rows (default 1,024: a block of 768-d rows is 3 MB, cache-sized), each
// block against every query of the batch. Exact; the reference for
// ORTSearcher; slow for large indexes (n·M·Dim multiply-adds per batch).
type GoSearcher struct {
	Index *Index
	Block int
	q     []float32
}

// Nearest implements Searcher.
func (g *GoSearcher) Nearest(queries []float32, n int, out []Match) error {
	x := g.Index
	var err error
	if g.q, err = normalised(queries, n, x.Dim, g.q); err != nil {
		return err
	}
	for i := range out[:n] {
		out[i] = Match{Index: -1}
	}
	block := g.Block
	if block <= 0 {
		block = 1024
	}
	d := x.Dim
	for lo := 0; lo < x.Len(); lo += block {
		hi := min(lo+block, x.Len())
		for qi := 0; qi < n; qi++ {
			q := g.q[qi*d : (qi+1)*d]
			best := out[qi]
			for r := lo; r < hi; r++ {
				v := x.Vectors[r*d : (r+1)*d]
				var s float32
				for k, f := range q {
					s += f * v[k]
				}
				if better(s, r, best) {
					best = Match{Index: r, Similarity: s}
				}
			}
			out[qi] = best
		}
	}
	return nil
}
