package neardup_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/conceptfreq/conceptfreq/models/ort"
	"github.com/conceptfreq/conceptfreq/models/ort/orttest"
	"github.com/conceptfreq/conceptfreq/transforms/neardup"
)

func randomIndex(t testing.TB, rng *rand.Rand, m, d int) *neardup.Index {
	x := &neardup.Index{}
	v := make([]float32, d)
	for i := 0; i < m; i++ {
		for k := range v {
			v[k] = float32(rng.NormFloat64())
		}
		if err := x.Add("set", "k"+string(rune('a'+i%26)), "label", v); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

// bruteForce is the float64 reference: every query against every row.
func bruteForce(x *neardup.Index, q []float32, n int) ([]int, []float64) {
	d := x.Dim
	idx, sims := make([]int, n), make([]float64, n)
	for i := 0; i < n; i++ {
		var qn float64
		for _, f := range q[i*d : (i+1)*d] {
			qn += float64(f) * float64(f)
		}
		qn = math.Sqrt(qn)
		idx[i], sims[i] = -1, math.Inf(-1)
		for r := 0; r < x.Len(); r++ {
			var s float64
			for k := 0; k < d; k++ {
				s += float64(q[i*d+k]) * float64(x.Vectors[r*d+k])
			}
			if s /= qn; s > sims[i] {
				idx[i], sims[i] = r, s
			}
		}
	}
	return idx, sims
}

// searchers are the Go searcher at several block sizes and the ORT
// searcher, one block and blocks that split the index; each runs as a
// subtest (the ORT ones skip where ONNX Runtime is not installed, or fail
// under make test).
func searchers(x *neardup.Index) map[string]func(t *testing.T) neardup.Searcher {
	s := map[string]func(t *testing.T) neardup.Searcher{
		"go-1024": func(*testing.T) neardup.Searcher { return &neardup.GoSearcher{Index: x} },
		"go-7":    func(*testing.T) neardup.Searcher { return &neardup.GoSearcher{Index: x, Block: 7} },
	}
	for name, block := range map[string]int{"ort-one-block": 0, "ort-1000-rows": 1000} {
		s[name] = func(t *testing.T) neardup.Searcher {
			o, err := neardup.NewORTSearcher(x, block, ort.Options{LibPath: orttest.Lib(t), Device: "cpu"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { o.Close() })
			return o
		}
	}
	return s
}

func TestNearestAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const m, d, n = 3000, 256, 37
	x := randomIndex(t, rng, m, d)
	q := make([]float32, n*d)
	for i := range q {
		q[i] = float32(rng.NormFloat64()) * 3 // not unit: Nearest normalises
	}
	// Plant near-duplicates: queries 0–9 are test rows 100·i plus noise.
	for i := 0; i < 10; i++ {
		for k := 0; k < d; k++ {
			q[i*d+k] = x.Vectors[100*i*d+k]*5 + float32(rng.NormFloat64())*0.01
		}
	}
	wantIdx, wantSim := bruteForce(x, q, n)
	for name, mk := range searchers(x) {
		t.Run(name, func(t *testing.T) { checkSearch(t, name, mk(t), x, q, n, wantIdx, wantSim) })
	}
}

func checkSearch(t *testing.T, name string, s neardup.Searcher, x *neardup.Index, q []float32, n int, wantIdx []int, wantSim []float64) {
	{
		out := make([]neardup.Match, n)
		if err := s.Nearest(q, n, out); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i, m := range out {
			if math.Abs(float64(m.Similarity)-wantSim[i]) > 1e-4 {
				t.Errorf("%s query %d: similarity %v, want %v", name, i, m.Similarity, wantSim[i])
			}
			if m.Index != wantIdx[i] {
				// Only a float32 near-tie may pick another row.
				if m.Index < 0 || math.Abs(bruteSim(x, q, i, m.Index)-wantSim[i]) > 1e-5 {
					t.Errorf("%s query %d: row %d, want %d", name, i, m.Index, wantIdx[i])
				}
			}
			if i < 10 && (m.Index != 100*i || m.Similarity < 0.99) {
				t.Errorf("%s planted query %d: row %d at %v, want row %d above 0.99", name, i, m.Index, m.Similarity, 100*i)
			}
			if i >= 10 && m.Similarity > 0.4 {
				t.Errorf("%s random query %d: similarity %v to a random 256-d row", name, i, m.Similarity)
			}
		}
	}
}

func bruteSim(x *neardup.Index, q []float32, i, r int) float64 {
	d := x.Dim
	var s, qn float64
	for k := 0; k < d; k++ {
		s += float64(q[i*d+k]) * float64(x.Vectors[r*d+k])
		qn += float64(q[i*d+k]) * float64(q[i*d+k])
	}
	return s / math.Sqrt(qn)
}

// Identical test rows: the lowest index wins, in every searcher.
func TestTiesGoToTheLowestIndex(t *testing.T) {
	x := &neardup.Index{}
	for i, v := range [][]float32{{0, 1, 0}, {1, 0, 0}, {2, 0, 0}, {1, 0, 0}} {
		if err := x.Add("set", string(rune('a'+i)), "", v); err != nil {
			t.Fatal(err)
		}
	}
	for name, mk := range searchers(x) {
		t.Run(name, func(t *testing.T) {
			out := make([]neardup.Match, 2)
			if err := mk(t).Nearest([]float32{3, 0, 0, 0, 0.5, 0}, 2, out); err != nil {
				t.Fatal(err)
			}
			if out[0].Index != 1 || out[0].Similarity != 1 || out[1].Index != 0 {
				t.Errorf("%s: %+v, want row 1 at 1 (rows 1–3 tie) and row 0", name, out)
			}
		})
	}
}

func TestUnusableVectors(t *testing.T) {
	x := &neardup.Index{}
	if err := x.Add("set", "a", "", []float32{0, 0}); !errors.Is(err, neardup.ErrVector) {
		t.Errorf("zero vector: %v", err)
	}
	if err := x.Add("set", "b", "", []float32{1, float32(math.NaN())}); !errors.Is(err, neardup.ErrVector) {
		t.Errorf("NaN: %v", err)
	}
	if err := x.Add("set", "c", "", []float32{1, 2}); err != nil {
		t.Fatal(err)
	}
	if err := x.Add("set", "d", "", []float32{1, 2, 3}); !errors.Is(err, neardup.ErrVector) {
		t.Errorf("3-d into a 2-d index: %v", err)
	}
	g := &neardup.GoSearcher{Index: x}
	if err := g.Nearest([]float32{0, 0}, 1, make([]neardup.Match, 1)); !errors.Is(err, neardup.ErrVector) {
		t.Errorf("zero query: %v", err)
	}
	if err := g.Nearest([]float32{1, 0, 0}, 1, make([]neardup.Match, 1)); err == nil {
		t.Error("3 values for one 2-d query: no error")
	}
	empty := &neardup.GoSearcher{Index: &neardup.Index{Dim: 2}}
	out := make([]neardup.Match, 1)
	if err := empty.Nearest([]float32{1, 0}, 1, out); err != nil || out[0].Index != -1 {
		t.Errorf("empty index: %+v %v", out, err)
	}
}

// BenchmarkORTSearch: 32 queries against 100,000 512-d test embeddings on
// the CPU (ONNX Runtime's GEMM), the study's scale of a test-set index.
func BenchmarkORTSearch(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	x := randomIndex(b, rng, 100_000, 512)
	s, err := neardup.NewORTSearcher(x, 0, ort.Options{LibPath: orttest.Lib(b), Device: "cpu"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	q := make([]float32, 32*512)
	for i := range q {
		q[i] = float32(rng.NormFloat64())
	}
	out := make([]neardup.Match, 32)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Nearest(q, 32, out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(32*b.N)/b.Elapsed().Seconds(), "queries/s")
}
