package fitstats_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/conceptfreq/conceptfreq/transforms/scalinglaw/fitstats"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestPearsonClosedForm(t *testing.T) {
	x := []float64{1, 2, 3, 4, 5}
	if r, p, err := fitstats.Pearson(x, []float64{3, 5, 7, 9, 11}); err != nil || !near(r, 1, 1e-12) || p != 0 {
		t.Errorf("perfect line: got r=%v p=%v err=%v, want 1, 0", r, p, err)
	}
	if r, _, err := fitstats.Pearson(x, []float64{10, 8, 6, 4, 2}); err != nil || !near(r, -1, 1e-12) {
		t.Errorf("perfect negative line: got r=%v err=%v", r, err)
	}
	// r = 0.8 on 5 points: t = 0.8*sqrt(3/0.36) = 2.3094, two-sided p (df 3) = 0.10408.
	y := []float64{1, 3, 2, 5, 4}
	r, p, err := fitstats.Pearson(x, y)
	if err != nil || !near(r, 0.8, 1e-12) || !near(p, 0.1040880, 1e-6) {
		t.Errorf("got r=%v p=%v err=%v, want 0.8, 0.1040880", r, p, err)
	}
	if _, _, err := fitstats.Pearson(x, []float64{2, 2, 2, 2, 2}); !errors.Is(err, fitstats.ErrConstant) {
		t.Errorf("constant: got %v, want ErrConstant", err)
	}
	if _, _, err := fitstats.Pearson([]float64{1, 2}, []float64{1, 2}); !errors.Is(err, fitstats.ErrTooFew) {
		t.Errorf("n=2: got %v, want ErrTooFew", err)
	}
	if _, _, err := fitstats.Pearson([]float64{1, 2, 3}, []float64{1, 2}); !errors.Is(err, fitstats.ErrLength) {
		t.Errorf("lengths: got %v, want ErrLength", err)
	}
}

func TestSpearmanTies(t *testing.T) {
	if got := fitstats.Ranks([]float64{10, 20, 20, 30, 10}); !reflect.DeepEqual(got, []float64{1.5, 3.5, 3.5, 5, 1.5}) {
		t.Errorf("ranks: got %v", got)
	}
	// Monotone but non-linear: rho = 1.
	if rho, _, err := fitstats.Spearman([]float64{1, 2, 3, 4}, []float64{1, 8, 27, 64}); err != nil || !near(rho, 1, 1e-12) {
		t.Errorf("monotone: got %v %v", rho, err)
	}
	// With ties: scipy.stats.spearmanr([1,2,2,3],[1,2,3,4]) = 0.9486832980505138.
	if rho, _, err := fitstats.Spearman([]float64{1, 2, 2, 3}, []float64{1, 2, 3, 4}); err != nil || !near(rho, 0.9486832980505138, 1e-12) {
		t.Errorf("ties: got %v %v", rho, err)
	}
}

func TestOLS(t *testing.T) {
	l, err := fitstats.OLS([]float64{0, 1, 2, 3}, []float64{1, 3, 5, 7})
	if err != nil || !near(l.Slope, 2, 1e-12) || !near(l.Intercept, 1, 1e-12) || !near(l.R2, 1, 1e-12) {
		t.Errorf("got %+v %v", l, err)
	}
	l, err = fitstats.OLS([]float64{0, 1, 2}, []float64{4, 4, 4})
	if err != nil || l.Slope != 0 || l.Intercept != 4 || l.R2 != 1 {
		t.Errorf("constant y: got %+v %v", l, err)
	}
	if _, err := fitstats.OLS([]float64{1, 1, 1}, []float64{1, 2, 3}); !errors.Is(err, fitstats.ErrConstant) {
		t.Errorf("constant x: got %v", err)
	}
}

func TestLinspaceDigitize(t *testing.T) {
	e := fitstats.Linspace(0, 11, 12)
	for i, v := range e {
		if v != float64(i) {
			t.Fatalf("linspace: got %v", e)
		}
	}
	for _, tt := range []struct {
		v    float64
		want int
	}{{-1, 0}, {0, 0}, {0.5, 1}, {1, 1}, {1.0000001, 2}, {11, 11}, {12, 12}} {
		if got := fitstats.DigitizeRight(tt.v, e); got != tt.want {
			t.Errorf("digitize(%v) = %d, want %d", tt.v, got, tt.want)
		}
	}
}

func TestSlices(t *testing.T) {
	for _, tt := range []struct {
		s      string
		lo, hi int
	}{{"1:-1", 1, 11}, {"2:-1", 2, 11}, {"0:-4", 0, 8}, {"[1:]", 1, 12}, {":", 0, 12}, {"5:2", 5, 5}} {
		s, err := fitstats.ParseSlice(tt.s)
		if err != nil {
			t.Fatal(err)
		}
		if lo, hi := s.Indices(12); lo != tt.lo || hi != tt.hi {
			t.Errorf("%s: got [%d,%d), want [%d,%d)", tt.s, lo, hi, tt.lo, tt.hi)
		}
	}
	if _, err := fitstats.ParseSlice("1-1"); err == nil || !strings.Contains(err.Error(), `bin slice "1-1": want start:end`) {
		t.Errorf("bad slice: got %v", err)
	}
}

func TestPaperBinsPerfectLine(t *testing.T) {
	// Counts e^0 .. e^11 with metric 5·ln(count): each bin holds one point
	// and the bin means lie exactly on the edges' line.
	var counts, metric []float64
	for i := 0; i <= 11; i++ {
		counts = append(counts, math.Exp(float64(i)))
		metric = append(metric, 5*float64(i))
	}
	s, _ := fitstats.ParseSlice("1:-1")
	f, err := fitstats.PaperBins(counts, metric, 12, s)
	if err != nil {
		t.Fatal(err)
	}
	if f.N != 10 || !near(f.Rho, 1, 1e-9) || !near(f.SlopePerDecade, 5*math.Ln10, 1e-9) {
		t.Errorf("got n=%d rho=%v slope/decade=%v", f.N, f.Rho, f.SlopePerDecade)
	}
	for i, b := range f.Bins {
		if b.N != 1 || !near(b.Mean, 5*float64(i), 1e-9) {
			t.Errorf("bin %d: %+v", i, b)
		}
	}
	// Zero counts become 1.
	f, err = fitstats.PaperBins([]float64{0, 1, math.E, math.E * math.E}, []float64{1, 3, 2, 3}, 3, fitstats.Slice{})
	if err != nil || f.Bins[0].N != 2 || f.Bins[0].Mean != 2 {
		t.Errorf("zeros: got %+v %v", f.Bins, err)
	}
}

func TestPerConceptBootstrapDeterminism(t *testing.T) {
	var counts, metric []float64
	for i := 0; i < 200; i++ {
		c := math.Pow(10, float64(i%50)/10)
		counts = append(counts, c)
		metric = append(metric, 3*math.Log10(c)+float64((i*7919)%13)-6)
	}
	counts = append(counts, 0)
	metric = append(metric, 99)
	a, err := fitstats.PerConcept(counts, metric, fitstats.ZerosExclude, 500, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := fitstats.PerConcept(counts, metric, fitstats.ZerosExclude, 500, 1)
	c, _ := fitstats.PerConcept(counts, metric, fitstats.ZerosExclude, 500, 2)
	if a.CILow != b.CILow || a.CIHigh != b.CIHigh {
		t.Errorf("same seed, different intervals: %v %v", a, b)
	}
	if a.CILow == c.CILow && a.CIHigh == c.CIHigh {
		t.Errorf("different seeds gave identical intervals")
	}
	if a.N != 200 || !(a.CILow < a.SlopePerDecade && a.SlopePerDecade < a.CIHigh) || !near(a.SlopePerDecade, 3, 0.5) {
		t.Errorf("got n=%d slope=%v CI [%v, %v]", a.N, a.SlopePerDecade, a.CILow, a.CIHigh)
	}
	p, _ := fitstats.PerConcept(counts, metric, fitstats.ZerosPlusOne, 0, 1)
	if p.N != 201 || !math.IsNaN(p.CILow) {
		t.Errorf("plus1: got n=%d CI %v", p.N, p.CILow)
	}
	total := 0
	for _, d := range a.Decades {
		total += d.N
	}
	if total != 200 || len(a.Decades) != 5 {
		t.Errorf("decades: %d concepts in %d decades, want 200 in 5", total, len(a.Decades))
	}
}

func TestPowerLaw(t *testing.T) {
	// A seeded sample: 20,000 draws of a discrete power law with alpha 2.5
	// above xmin 10 (CSN's inverse-transform approximation) plus 5,000
	// uniform values below it that the fit must cut off.
	rng := rand.New(rand.NewPCG(3, 4))
	var xs []float64
	for i := 0; i < 20000; i++ {
		u := rng.Float64()
		xs = append(xs, math.Floor((10-0.5)*math.Pow(1-u, -1/(2.5-1))+0.5))
	}
	for i := 0; i < 5000; i++ {
		xs = append(xs, float64(1+rng.IntN(9)))
	}
	f, err := fitstats.FitPowerLaw(xs, 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	if !near(f.Alpha, 2.5, 0.05) || f.XMin < 8 || f.XMin > 14 {
		t.Errorf("got alpha %v xmin %v (ks %v), want ≈2.5 and ≈10", f.Alpha, f.XMin, f.KS)
	}
	if got := fitstats.ShareBelow([]float64{0, 1, 5, 10, 100}, []float64{1, 10, 1000}); !reflect.DeepEqual(got, []float64{0.2, 0.6, 1}) {
		t.Errorf("share below: got %v", got)
	}
	if _, err := fitstats.FitPowerLaw([]float64{1, 2}, 10, 2); !errors.Is(err, fitstats.ErrTooFew) {
		t.Errorf("two points: got %v", err)
	}
}
