package scalinglaw

import (
	"math"
	"sort"
)

// HeadlineRow is one line of the report's headline table: for one
// pretraining dataset and model, the log-linear fit of accuracy on the
// headline frequency (matched, class prompts, the study's binned fit), and
// the study's own value where its released data gives one.
type HeadlineRow struct {
	Pretraining, Model, Kind, Prompt string
	Counts                           string // SourceStudy or the count run's name
	FitID                            string
	Bins                             int
	Rho, Slope                       float64
	// StudyRho and StudySlope are, for a count run's row, the study's fit
	// of the same model and pretraining from its released counts (NaN when
	// unknown, and for the study's own rows).
	StudyRho, StudySlope float64
}

// HasStudy reports whether the study's value is known.
func (h HeadlineRow) HasStudy() bool { return !math.IsNaN(h.StudyRho) }

// Own reports whether the row's counts come from a count run.
func (h HeadlineRow) Own() bool { return h.Counts != SourceStudy }

// DeltaRho is ours − the study's.
func (h HeadlineRow) DeltaRho() float64 { return h.Rho - h.StudyRho }

// DeltaSlope is ours − the study's.
func (h HeadlineRow) DeltaSlope() float64 { return h.Slope - h.StudySlope }

// headlineChoice picks the headline count kind (matched when there is one)
// and prompt set (class when there is one).
func headlineChoice(res *Results) (kind, prompt string) {
	kinds, prompts := map[string]bool{}, map[string]bool{}
	for _, f := range res.Fits {
		if f.Mode == ModePaperBins && f.Err == "" {
			kinds[f.Kind], prompts[f.Prompt] = true, true
		}
	}
	pick := func(order []string, have map[string]bool) string {
		for _, o := range order {
			if have[o] {
				return o
			}
		}
		var rest []string
		for h := range have {
			rest = append(rest, h)
		}
		sort.Strings(rest)
		if len(rest) > 0 {
			return rest[0]
		}
		return ""
	}
	return pick(kindOrder, kinds), pick(promptOrder, prompts)
}

// Headline returns the headline table: one row per (pretraining, model)
// for the headline kind and prompt, in the study's order.
func Headline(res *Results) []HeadlineRow {
	kind, prompt := headlineChoice(res)
	var rows []HeadlineRow
	for _, f := range res.Fits {
		if f.Mode != ModePaperBins || f.Err != "" || f.Kind != kind || f.Prompt != prompt {
			continue
		}
		h := HeadlineRow{Pretraining: f.Pretraining, Model: f.Model, Kind: f.Kind, Prompt: f.Prompt, Counts: f.Counts,
			FitID: f.ID(), Bins: f.N, Rho: f.Rho, Slope: f.SlopePerDecade, StudyRho: math.NaN(), StudySlope: math.NaN()}
		if ref := res.Reference[f.ID()]; f.Own() && ref != nil && ref.Err == "" {
			h.StudyRho, h.StudySlope = ref.Rho, ref.SlopePerDecade
		}
		rows = append(rows, h)
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Own() != rows[j].Own() {
			return rows[i].Own()
		}
		if rows[i].Pretraining != rows[j].Pretraining {
			return lessPretraining(rows[i].Pretraining, rows[j].Pretraining)
		}
		return rows[i].Model < rows[j].Model
	})
	return rows
}

// AnyStudyComparison reports whether any headline row has the study's
// value beside its own (a count run's row whose pretraining the study
// released counts for).
func AnyStudyComparison(rows []HeadlineRow) bool {
	for _, r := range rows {
		if r.Own() && r.HasStudy() {
			return true
		}
	}
	return false
}
