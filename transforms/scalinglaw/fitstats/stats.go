// Package fitstats holds the statistics of the fit: it fits zero-shot performance against concept frequency: the
// study's binned log-linear procedure (arXiv 2404.04125), per-concept
// regressions with bootstrap intervals, rank correlations, and a power-law
// (Zipf) tail fit. It is plain Go over float64 slices; pipelines/fit reads
// the inputs and writes the outputs.
package fitstats

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Errors returned for data a statistic cannot be computed on.
var (
	// ErrTooFew: fewer than 3 points (a correlation's p-value needs n-2 > 0).
	ErrTooFew = errors.New("fitstats: need at least 3 points")
	// ErrConstant: a variable has zero variance, so correlation is undefined.
	ErrConstant = errors.New("fitstats: constant data, correlation undefined")
	// ErrLength: x and y differ in length.
	ErrLength = errors.New("fitstats: x and y differ in length")
)

func check(x, y []float64) error {
	if len(x) != len(y) {
		return fmt.Errorf("%w (%d vs %d)", ErrLength, len(x), len(y))
	}
	if len(x) < 3 {
		return fmt.Errorf("%w, got %d", ErrTooFew, len(x))
	}
	if isConstant(x) || isConstant(y) {
		return ErrConstant
	}
	return nil
}

func isConstant(v []float64) bool {
	for _, a := range v[1:] {
		if a != v[0] {
			return false
		}
	}
	return true
}

// Pearson returns the correlation coefficient of x and y and its two-sided
// p-value (t-test with n-2 degrees of freedom, as scipy.stats.pearsonr).
func Pearson(x, y []float64) (r, p float64, err error) {
	if err := check(x, y); err != nil {
		return math.NaN(), math.NaN(), err
	}
	r = stat.Correlation(x, y, nil)
	r = math.Max(-1, math.Min(1, r))
	return r, corrPValue(r, len(x)), nil
}

func corrPValue(r float64, n int) float64 {
	if math.Abs(r) >= 1 {
		return 0
	}
	df := float64(n - 2)
	t := r * math.Sqrt(df/(1-r*r))
	st := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}
	return 2 * st.Survival(math.Abs(t))
}

// Ranks returns the 1-based ranks of v, ties given their average rank.
func Ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
	ranks := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			ranks[idx[k]] = avg
		}
		i = j + 1
	}
	return ranks
}

// Spearman returns the rank correlation of x and y (Pearson on average
// ranks, so ties are handled) and its two-sided p-value (t approximation,
// as scipy.stats.spearmanr).
func Spearman(x, y []float64) (rho, p float64, err error) {
	if err := check(x, y); err != nil {
		return math.NaN(), math.NaN(), err
	}
	return Pearson(Ranks(x), Ranks(y))
}

// Line is an ordinary-least-squares fit y = Intercept + Slope·x.
type Line struct {
	Slope, Intercept, R2 float64
	N                    int
}

// OLS fits y on x by least squares.
func OLS(x, y []float64) (Line, error) {
	if len(x) != len(y) {
		return Line{}, fmt.Errorf("%w (%d vs %d)", ErrLength, len(x), len(y))
	}
	if len(x) < 2 {
		return Line{}, fmt.Errorf("%w, got %d", ErrTooFew, len(x))
	}
	if isConstant(x) {
		return Line{}, ErrConstant
	}
	a, b := stat.LinearRegression(x, y, nil, false)
	r2 := stat.RSquared(x, y, nil, a, b)
	if isConstant(y) {
		r2 = 1 // a horizontal line explains constant data exactly
	}
	return Line{Slope: b, Intercept: a, R2: r2, N: len(x)}, nil
}

// Mean and population standard deviation of v (NaN for an empty v).
func meanStd(v []float64) (mean, std float64) {
	if len(v) == 0 {
		return math.NaN(), math.NaN()
	}
	mean = stat.Mean(v, nil)
	ss := 0.0
	for _, a := range v {
		ss += (a - mean) * (a - mean)
	}
	return mean, math.Sqrt(ss / float64(len(v)))
}
