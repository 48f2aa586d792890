package count

import (
	"sort"

	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/transforms/concept"
	"github.com/conceptfreq/conceptfreq/transforms/imagetag"
)

// NearSummary is run_stats.json's similarity_control: how many tagged
// samples are near-duplicates of each test set, and the concepts whose
// counts lose the most without them.
type NearSummary struct {
	Threshold      float64        `json:"threshold"`
	ReportFloor    float64        `json:"report_floor"`
	ImagesSearched int64          `json:"images_searched"`
	Listed         int64          `json:"samples_listed"` // rows in near_duplicates/ (similarity ≥ the floor)
	NearDuplicates int64          `json:"near_duplicates"`
	ByTestSet      []NearTestSet  `json:"by_test_set"`
	MostAffected   []NearAffected `json:"most_affected_concepts"`
}

// NearTestSet is one test set's line of the summary.
type NearTestSet struct {
	Dataset        string `json:"dataset"`
	TestImages     int64  `json:"test_images"`
	NearDuplicates int64  `json:"near_duplicates"` // samples whose most similar test image is in this set, at or above the threshold
}

// NearAffected is a concept whose counts change without the
// near-duplicates: by matched counts where the tagger knows the concept,
// else by text counts.
type NearAffected struct {
	Concept             string  `json:"concept"`
	Kind                string  `json:"count_kind"` // matched or text
	Count               int64   `json:"count"`
	CountDissimilar     int64   `json:"count_dissimilar"`
	RemovedFraction     float64 `json:"removed_fraction"`
	TextCount           int64   `json:"text_count"`
	TextCountDissimilar int64   `json:"text_count_dissimilar"`
}

// MaxAffectedListed bounds NearSummary.MostAffected.
const MaxAffectedListed = 20

func nearSummary(rec *imagetag.NearRecord, total concept.Stats, rows []tables.ConceptCount) *NearSummary {
	ns := &NearSummary{Threshold: rec.Threshold, ReportFloor: rec.Floor, ImagesSearched: total.NearSearched, Listed: total.NearListed,
		ByTestSet: []NearTestSet{}, MostAffected: []NearAffected{}}
	sets := map[string]int64{}
	for _, f := range rec.Files {
		for d, n := range f.Datasets {
			sets[d] += n
		}
	}
	for d := range total.NearDuplicates {
		if _, ok := sets[d]; !ok {
			sets[d] = 0
		}
	}
	for d, n := range sets {
		k := total.NearDuplicates[d]
		ns.NearDuplicates += k
		ns.ByTestSet = append(ns.ByTestSet, NearTestSet{Dataset: d, TestImages: n, NearDuplicates: k})
	}
	sort.Slice(ns.ByTestSet, func(i, j int) bool { return ns.ByTestSet[i].Dataset < ns.ByTestSet[j].Dataset })
	for _, r := range rows {
		if r.TextCountDissimilar == nil {
			continue
		}
		a := NearAffected{Concept: r.Concept, Kind: "text", Count: r.TextCount, CountDissimilar: *r.TextCountDissimilar,
			TextCount: r.TextCount, TextCountDissimilar: *r.TextCountDissimilar}
		if r.MatchedCount != nil && r.MatchedCountDissimilar != nil && *r.MatchedCount > 0 {
			a.Kind, a.Count, a.CountDissimilar = "matched", *r.MatchedCount, *r.MatchedCountDissimilar
		}
		if a.Count == a.CountDissimilar || a.Count == 0 {
			continue
		}
		a.RemovedFraction = float64(a.Count-a.CountDissimilar) / float64(a.Count)
		ns.MostAffected = append(ns.MostAffected, a)
	}
	sort.SliceStable(ns.MostAffected, func(i, j int) bool {
		a, b := ns.MostAffected[i], ns.MostAffected[j]
		if a.RemovedFraction != b.RemovedFraction {
			return a.RemovedFraction > b.RemovedFraction
		}
		return a.Count-a.CountDissimilar > b.Count-b.CountDissimilar
	})
	if len(ns.MostAffected) > MaxAffectedListed {
		ns.MostAffected = ns.MostAffected[:MaxAffectedListed]
	}
	return ns
}
