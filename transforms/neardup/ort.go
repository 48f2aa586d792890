package neardup

import (
	"fmt"
	"strconv"

	"github.com/conceptfreq/conceptfreq/models/onnxbuild"
	"github.com/conceptfreq/conceptfreq/models/ort"
)

// ORTSearcher runs the matrix product in ONNX Runtime: one session per
// block of test embeddings (a MatMul graph built in Go whose constant is
// the block, transposed: [Dim, rows]), the queries its [n, Dim] input and
// the similarities its [n, rows] output, of which Go keeps the best. On
// the GPU (Options.Device) the product runs there. Memory: the index once
// in Go and once in ONNX Runtime (2 × rows × Dim × 4 bytes), plus n × Block
// similarities per call.
type ORTSearcher struct {
	Index    *Index
	Block    int // test rows per session (default 65,536)
	sessions []*ort.Session
	offsets  []int
}

// NewORTSearcher opens the sessions for x with o (LibPath, Device, threads).
func NewORTSearcher(x *Index, block int, o ort.Options) (*ORTSearcher, error) {
	if block <= 0 {
		block = 65536
	}
	s := &ORTSearcher{Index: x, Block: block}
	d := x.Dim
	for lo := 0; lo < x.Len(); lo += block {
		hi := min(lo+block, x.Len())
		rows := hi - lo
		t := make([]float32, d*rows) // [Dim, rows]
		for r := 0; r < rows; r++ {
			for k := 0; k < d; k++ {
				t[k*rows+r] = x.Vectors[(lo+r)*d+k]
			}
		}
		m := &onnxbuild.Model{
			Name:         "neardup_block",
			Inputs:       []onnxbuild.Value{{Name: "queries", Dims: []onnxbuild.Dim{{Param: "batch"}, {Value: int64(d)}}}},
			Outputs:      []onnxbuild.Value{{Name: "similarity", Dims: []onnxbuild.Dim{{Param: "batch"}, {Value: int64(rows)}}}},
			Initializers: []onnxbuild.Initializer{{Name: "tests", Dims: []int64{int64(d), int64(rows)}, Data: t}},
			Nodes:        []onnxbuild.Node{{Op: "MatMul", Inputs: []string{"queries", "tests"}, Outputs: []string{"similarity"}}},
		}
		sess, err := ort.OpenData("neardup block "+strconv.Itoa(lo), m.Marshal(), o)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("neardup: %w", err)
		}
		s.sessions = append(s.sessions, sess)
		s.offsets = append(s.offsets, lo)
	}
	return s, nil
}

// Nearest implements Searcher. It is safe for concurrent use (ONNX
// Runtime's Run is), so one searcher serves a worker process.
func (s *ORTSearcher) Nearest(queries []float32, n int, out []Match) error {
	q, err := normalised(queries, n, s.Index.Dim, nil)
	if err != nil {
		return err
	}
	for i := range out[:n] {
		out[i] = Match{Index: -1}
	}
	for b, sess := range s.sessions {
		sim, rows, err := sess.RunMatrix(q, n, s.Index.Dim)
		if err != nil {
			return fmt.Errorf("neardup: %w", err)
		}
		lo := s.offsets[b]
		for qi := 0; qi < n; qi++ {
			best := out[qi]
			for r, v := range sim[qi*rows : (qi+1)*rows] {
				if better(v, lo+r, best) {
					best = Match{Index: lo + r, Similarity: v}
				}
			}
			out[qi] = best
		}
	}
	return nil
}

// Close releases the sessions.
func (s *ORTSearcher) Close() error {
	var first error
	for _, sess := range s.sessions {
		if err := sess.Close(); err != nil && first == nil {
			first = err
		}
	}
	s.sessions = nil
	return first
}
