package fitstats

import (
	"fmt"
	"math"
	"sort"
)

// PowerLawFit is a discrete power law p(x) ∝ x^-Alpha for x >= XMin fitted by
// maximum likelihood with XMin chosen to minimise the Kolmogorov–Smirnov
// distance (Clauset, Shalizi & Newman 2009).
type PowerLawFit struct {
	Alpha float64
	XMin  float64
	KS    float64
	NTail int // points with x >= XMin
	N     int // positive points considered
}

// FitPowerLaw fits the positive values of xs. At most maxCandidates XMin
// values (quantile-spaced among the distinct values) are tried; tails with
// fewer than minTail points are not considered.
func FitPowerLaw(xs []float64, maxCandidates, minTail int) (PowerLawFit, error) {
	var v []float64
	for _, x := range xs {
		if x >= 1 {
			v = append(v, math.Floor(x))
		}
	}
	sort.Float64s(v)
	if len(v) < max(minTail, 3) {
		return PowerLawFit{}, fmt.Errorf("%w: %d positive values", ErrTooFew, len(v))
	}
	var distinct []float64
	for i, x := range v {
		if i == 0 || x != v[i-1] {
			distinct = append(distinct, x)
		}
	}
	cands := distinct
	if maxCandidates > 0 && len(cands) > maxCandidates {
		cands = make([]float64, 0, maxCandidates)
		for i := 0; i < maxCandidates; i++ {
			cands = append(cands, distinct[i*(len(distinct)-1)/(maxCandidates-1)])
		}
	}
	best := PowerLawFit{KS: math.Inf(1), N: len(v)}
	for _, xmin := range cands {
		start := sort.SearchFloat64s(v, xmin)
		tail := v[start:]
		if len(tail) < minTail {
			break
		}
		// CSN eq. 3.7: discrete MLE approximation.
		sum := 0.0
		for _, x := range tail {
			sum += math.Log(x / (xmin - 0.5))
		}
		if sum <= 0 {
			continue
		}
		alpha := 1 + float64(len(tail))/sum
		// KS distance between the tail's empirical CDF and the fitted one,
		// P(X < x) = 1 - ((x-½)/(xmin-½))^(1-alpha), the same continuity
		// approximation as the estimator, compared on both sides of each
		// distinct value.
		ks := 0.0
		n := float64(len(tail))
		below := func(x float64) float64 { return 1 - math.Pow((x-0.5)/(xmin-0.5), 1-alpha) }
		for i := 0; i < len(tail); {
			j := i
			for j < len(tail) && tail[j] == tail[i] {
				j++
			}
			ks = math.Max(ks, math.Max(math.Abs(float64(i)/n-below(tail[i])), math.Abs(float64(j)/n-below(tail[i]+1))))
			i = j
		}
		if ks < best.KS {
			best = PowerLawFit{Alpha: alpha, XMin: xmin, KS: ks, NTail: len(tail), N: len(v)}
		}
	}
	if math.IsInf(best.KS, 1) {
		return best, fmt.Errorf("%w: no tail of at least %d points", ErrTooFew, minTail)
	}
	return best, nil
}

// ShareBelow returns the fraction of xs strictly below each threshold.
func ShareBelow(xs []float64, thresholds []float64) []float64 {
	out := make([]float64, len(thresholds))
	if len(xs) == 0 {
		return out
	}
	for i, t := range thresholds {
		n := 0
		for _, x := range xs {
			if x < t {
				n++
			}
		}
		out[i] = float64(n) / float64(len(xs))
	}
	return out
}
