package neardup

import (
	"fmt"
	"strconv"

	"github.com/conceptfreq/conceptfreq/models/onnxbuild"
	"github.com/conceptfreq/conceptfreq/models/ort"
)

// ORTSearcher runs the matrix product in ONNX Runtime: one session per
// block of test embeddings (a graph built in Go whose constant is the
// block, transposed: [Dim, rows]), the queries its [n, Dim] input; the
// graph reduces the [n, rows] similarities to each query's best and its
// row (ReduceMax, ArgMax: the first of equal ones), and Go keeps the best
// over the blocks. On the GPU (Options.Device) it all runs there. Memory:
// the index once in Go and once in ONNX Runtime (2 × rows × Dim × 4
// bytes), plus n × Block similarities inside ONNX Runtime per call.
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
		// best[i] = (max_r sim[i, r], the first r reaching it): only two
		// values a query leave ONNX Runtime, not the block's similarities.
		// The row index travels as a float, exact below 2^24 rows a block.
		m := &onnxbuild.Model{
			Name:         "neardup_block",
			Inputs:       []onnxbuild.Value{{Name: "queries", Dims: []onnxbuild.Dim{{Param: "batch"}, {Value: int64(d)}}}},
			Outputs:      []onnxbuild.Value{{Name: "best", Dims: []onnxbuild.Dim{{Param: "batch"}, {Value: 2}}}},
			Initializers: []onnxbuild.Initializer{{Name: "tests", Dims: []int64{int64(d), int64(rows)}, Data: t}},
			Nodes: []onnxbuild.Node{
				{Op: "MatMul", Inputs: []string{"queries", "tests"}, Outputs: []string{"similarity"}},
				{Op: "ReduceMax", Inputs: []string{"similarity"}, Outputs: []string{"max"}, IntsAttr: map[string][]int64{"axes": {1}}, IntAttr: map[string]int64{"keepdims": 1}},
				{Op: "ArgMax", Inputs: []string{"similarity"}, Outputs: []string{"argmax"}, IntAttr: map[string]int64{"axis": 1, "keepdims": 1, "select_last_index": 0}},
				{Op: "Cast", Inputs: []string{"argmax"}, Outputs: []string{"row"}, IntAttr: map[string]int64{"to": 1}},
				{Op: "Concat", Inputs: []string{"max", "row"}, Outputs: []string{"best"}, IntAttr: map[string]int64{"axis": 1}},
			},
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
		best, cols, err := sess.RunMatrix(q, n, s.Index.Dim)
		if err != nil {
			return fmt.Errorf("neardup: %w", err)
		}
		if cols != 2 {
			return fmt.Errorf("neardup: block search gave %d columns, want 2", cols)
		}
		lo := s.offsets[b]
		for qi := 0; qi < n; qi++ {
			v, r := best[2*qi], lo+int(best[2*qi+1])
			if better(v, r, out[qi]) {
				out[qi] = Match{Index: r, Similarity: v}
			}
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
