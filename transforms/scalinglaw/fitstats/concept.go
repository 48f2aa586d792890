package fitstats

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// ZeroMode says what a per-concept fit does with zero counts.
type ZeroMode string

// Zero modes.
const (
	ZerosExclude ZeroMode = "exclude" // drop concepts with count 0
	ZerosPlusOne ZeroMode = "plus1"   // use log10(count + 1) for every concept
)

// ConceptFit is an OLS of the metric on log10(count) over single concepts.
type ConceptFit struct {
	N                 int
	SlopePerDecade    float64 // metric points per 10× frequency
	Intercept         float64 // metric at count 1 (or 0 with plus1)
	R2                float64
	CILow, CIHigh     float64 // bootstrap 95% percentile interval of the slope
	Pearson, PearsonP float64
	Spearman, SpearP  float64
	Decades           []Bin // concepts per frequency decade [10^k, 10^(k+1)), x in log10 units
}

// PerConcept fits metric on log10(count) concept by concept. The slope's
// 95% interval comes from boot bootstrap resamples drawn with seed, so the
// same inputs always give the same interval.
func PerConcept(counts, metric []float64, zeros ZeroMode, boot int, seed uint64) (ConceptFit, error) {
	if len(counts) != len(metric) {
		return ConceptFit{}, fmt.Errorf("%w (%d vs %d)", ErrLength, len(counts), len(metric))
	}
	var x, y []float64
	for i, c := range counts {
		switch {
		case zeros == ZerosPlusOne:
			x = append(x, math.Log10(c+1))
		case c > 0:
			x = append(x, math.Log10(c))
		default:
			continue
		}
		y = append(y, metric[i])
	}
	var f ConceptFit
	f.N = len(x)
	line, err := OLS(x, y)
	if err != nil {
		return f, err
	}
	f.SlopePerDecade, f.Intercept, f.R2 = line.Slope, line.Intercept, line.R2
	if f.Pearson, f.PearsonP, err = Pearson(x, y); err != nil {
		return f, err
	}
	if f.Spearman, f.SpearP, err = Spearman(x, y); err != nil {
		return f, err
	}
	f.CILow, f.CIHigh = bootstrapSlope(x, y, boot, seed)
	f.Decades = decades(x, y)
	return f, nil
}

func bootstrapSlope(x, y []float64, boot int, seed uint64) (lo, hi float64) {
	if boot <= 0 {
		return math.NaN(), math.NaN()
	}
	rng := rand.New(rand.NewPCG(seed, uint64(len(x))))
	bx := make([]float64, len(x))
	by := make([]float64, len(y))
	slopes := make([]float64, 0, boot)
	for b := 0; b < boot; b++ {
		for i := range bx {
			j := rng.IntN(len(x))
			bx[i], by[i] = x[j], y[j]
		}
		if l, err := OLS(bx, by); err == nil {
			slopes = append(slopes, l.Slope)
		}
	}
	if len(slopes) == 0 {
		return math.NaN(), math.NaN()
	}
	sort.Float64s(slopes)
	return quantile(slopes, 0.025), quantile(slopes, 0.975)
}

// quantile of sorted v with linear interpolation (numpy's default).
func quantile(v []float64, q float64) float64 {
	pos := q * float64(len(v)-1)
	i := int(math.Floor(pos))
	if i+1 >= len(v) {
		return v[len(v)-1]
	}
	return v[i] + (pos-float64(i))*(v[i+1]-v[i])
}

func decades(x, y []float64) []Bin {
	by := map[int][]float64{}
	lo, hi := math.MaxInt, math.MinInt
	for i, v := range x {
		d := int(math.Floor(v + 1e-12))
		by[d] = append(by[d], y[i])
		lo, hi = min(lo, d), max(hi, d)
	}
	var out []Bin
	for d := lo; d <= hi && len(x) > 0; d++ {
		b := Bin{Lo: float64(d), Hi: float64(d + 1), N: len(by[d]), Used: true}
		b.Mean, b.Std = meanStd(by[d])
		out = append(out, b)
	}
	return out
}
