package count

import (
	"bytes"
	"github.com/conceptfreq/conceptfreq/transforms/concept"
	"github.com/conceptfreq/conceptfreq/transforms/imagetag"
	"strings"
	"testing"
	"time"

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
		rs := RunStats{Stats: concept.Stats{SamplesRead: 3, Rejects: map[string]int64{"no_caption": 1}}}
		if name == "image side" {
			rs.Config.Image = &imagetag.Record{Tagger: "multilabel", Threshold: 0.7}
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

func TestProgress(t *testing.T) {
	if got := ProgressLine(5, 20, 12345, 7, 10*time.Second); got != "5/20 shards, 12,345 samples, 1,234 samples/s, 7 rejects, ETA 30s" {
		t.Errorf("got %q", got)
	}
	if got := ProgressLine(0, 3, 0, 0, 0); !strings.HasSuffix(got, "ETA ?") {
		t.Errorf("no shard done yet: got %q", got)
	}
	p := NewProgress()
	defer p.Release()
	if progressFor(p.ID) != p || progressFor("another run") != nil {
		t.Fatal("a run's workers do not find its Progress by ID, or find another's")
	}
	progressFor(p.ID).add(60, 1)
	progressFor(p.ID).add(40, 0)
	progressFor("").add(1000, 1000) // a worker of another process: counted nowhere
	var b bytes.Buffer
	ticks, stop, done := make(chan time.Time), make(chan struct{}), make(chan struct{})
	go func() { p.Report(&b, 2, ticks, stop); close(done) }()
	ticks <- time.Now()
	ticks <- time.Now()
	close(stop)
	<-done
	out := b.String()
	if !strings.HasSuffix(out, "\033[K\n") || strings.Count(out, "\r2/2 shards, 100 samples") != 3 || !strings.Contains(out, "1 reject,") || strings.Count(out, "\n") != 1 {
		t.Errorf("progress output %q: want lines rewritten in place and one final newline", out)
	}
}
