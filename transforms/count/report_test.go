package count

import (
	"bytes"
	"strings"
	"testing"

	"github.com/conceptfreq/conceptfreq/io/tables"
)

// The count report renders whatever the counts look like: nothing found,
// one concept, every count equal (degenerate log axes), image-side nulls.
func TestCountReportDegenerateCounts(t *testing.T) {
	one := int64(1)
	for name, rows := range map[string][]tables.ConceptCount{
		"nothing found": {{Concept: "a"}, {Concept: "b"}},
		"one concept":   {{Concept: "a", TextCount: 5}, {Concept: "b"}},
		"all equal":     {{Concept: "a", TextCount: 1}, {Concept: "b", TextCount: 1}, {Concept: "c", TextCount: 1}},
		"image side":    {{Concept: "a", TextCount: 1, ImageCount: &one, MatchedCount: &one}, {Concept: "b", TextCount: 1}},
	} {
		rs := RunStats{Stats: Stats{SamplesRead: 3, Rejects: map[string]int64{"no_caption": 1}}}
		if name == "image side" {
			rs.Config.Image = &ImageRunConfig{Tagger: "multilabel", Threshold: 0.7}
		}
		page, err := renderCountReport(rs, rows)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !bytes.Contains(page, []byte("data:image/png;base64,")) || !strings.Contains(string(page), "no caption member") {
			t.Errorf("%s: report lacks the rank plot or the reject's meaning", name)
		}
	}
}
