package fitstats

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Slice selects bins like a Python slice [Start:End] (negative values count
// from the end; End 0 with HasEnd false means "to the end").
type Slice struct {
	Start, End int
	HasEnd     bool
}

// ParseSlice parses "1:-1", "2:-1", "0:-4", ":-1", "1:".
func ParseSlice(s string) (Slice, error) {
	a, b, ok := strings.Cut(strings.Trim(strings.TrimSpace(s), "[]"), ":")
	if !ok {
		return Slice{}, fmt.Errorf("fitstats: bin slice %q: want start:end", s)
	}
	var out Slice
	var err error
	if a != "" {
		if out.Start, err = strconv.Atoi(a); err != nil {
			return Slice{}, fmt.Errorf("fitstats: bin slice %q: %v", s, err)
		}
	}
	if b != "" {
		if out.End, err = strconv.Atoi(b); err != nil {
			return Slice{}, fmt.Errorf("fitstats: bin slice %q: %v", s, err)
		}
		out.HasEnd = true
	}
	return out, nil
}

// String formats the slice as "[a:b]".
func (s Slice) String() string {
	if !s.HasEnd {
		return fmt.Sprintf("[%d:]", s.Start)
	}
	return fmt.Sprintf("[%d:%d]", s.Start, s.End)
}

// Indices resolves the slice against n items, as Python does.
func (s Slice) Indices(n int) (lo, hi int) {
	norm := func(i int) int {
		if i < 0 {
			i += n
		}
		return max(0, min(n, i))
	}
	lo = norm(s.Start)
	hi = n
	if s.HasEnd {
		hi = norm(s.End)
	}
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// Bin is one frequency bin: its edges (in the fit's x units), the points it
// holds and their metric's mean and (population) standard deviation.
type Bin struct {
	Lo, Hi    float64
	N         int
	Mean, Std float64
	Used      bool // part of the correlation
}

// BinnedFit is the study's procedure on one set of points.
type BinnedFit struct {
	Bins  []Bin // one per edge: bin i holds Edges[i-1] < ln x <= Edges[i]
	Edges []float64
	Slice Slice
	N     int     // bins used in the correlation (non-empty, inside the slice)
	Rho   float64 // Pearson between the used bins' right edges and means
	P     float64
	// Line through the used bins' means against their right edges, with the
	// slope converted to metric points per 10× frequency.
	SlopePerDecade, Intercept float64
}

// Linspace returns n evenly spaced values from lo to hi inclusive (numpy).
func Linspace(lo, hi float64, n int) []float64 {
	out := make([]float64, n)
	if n == 1 {
		out[0] = lo
		return out
	}
	step := (hi - lo) / float64(n-1)
	for i := range out {
		out[i] = lo + float64(i)*step
	}
	out[n-1] = hi
	return out
}

// DigitizeRight returns, like numpy.digitize(v, edges, right=True), the
// index i with edges[i-1] < v <= edges[i] (0 when v <= edges[0],
// len(edges) when v > the last edge).
func DigitizeRight(v float64, edges []float64) int {
	lo, hi := 0, len(edges)
	for lo < hi { // first i with edges[i] >= v
		mid := (lo + hi) / 2
		if edges[mid] >= v {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// PaperBins runs the study's fit: counts of 0 become 1, x = ln(count),
// nbins edges linspace(min x, max x), points assigned by DigitizeRight,
// mean metric per bin, then Pearson between ln(exp(edge)) = edge and the bin
// means over the bins of slice (empty bins are skipped).
func PaperBins(counts, metric []float64, nbins int, slice Slice) (BinnedFit, error) {
	if len(counts) != len(metric) {
		return BinnedFit{}, fmt.Errorf("%w (%d vs %d)", ErrLength, len(counts), len(metric))
	}
	if len(counts) == 0 || nbins < 2 {
		return BinnedFit{}, fmt.Errorf("%w: %d points, %d bins", ErrTooFew, len(counts), nbins)
	}
	x := make([]float64, len(counts))
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, c := range counts {
		if c < 1 {
			c = 1
		}
		x[i] = math.Log(c)
		lo, hi = math.Min(lo, x[i]), math.Max(hi, x[i])
	}
	fit := BinnedFit{Edges: Linspace(lo, hi, nbins), Slice: slice}
	members := make([][]float64, nbins)
	for i, v := range x {
		b := DigitizeRight(v, fit.Edges)
		if b >= nbins { // only by rounding at the top edge
			b = nbins - 1
		}
		members[b] = append(members[b], metric[i])
	}
	fit.Bins = make([]Bin, nbins)
	for i := range fit.Bins {
		b := &fit.Bins[i]
		b.Hi = fit.Edges[i]
		b.Lo = math.Inf(-1)
		if i > 0 {
			b.Lo = fit.Edges[i-1]
		}
		b.N = len(members[i])
		b.Mean, b.Std = meanStd(members[i])
	}
	s, e := slice.Indices(nbins)
	var ex, ey []float64
	for i := s; i < e; i++ {
		if fit.Bins[i].N > 0 {
			fit.Bins[i].Used = true
			ex = append(ex, fit.Edges[i])
			ey = append(ey, fit.Bins[i].Mean)
		}
	}
	fit.N = len(ex)
	var err error
	fit.Rho, fit.P, err = Pearson(ex, ey)
	if err != nil {
		return fit, fmt.Errorf("bins %s: %w", slice, err)
	}
	line, err := OLS(ex, ey)
	if err != nil {
		return fit, err
	}
	fit.SlopePerDecade = line.Slope * math.Ln10
	fit.Intercept = line.Intercept
	return fit, nil
}
