package caption

import (
	"github.com/conceptfreq/conceptfreq/transforms/caption/internal/postag"

	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/jdkato/prose/v2"

	"github.com/conceptfreq/conceptfreq/internal/shareddata"
)

func laionCaptions(t testing.TB) []string {
	t.Helper()
	caps := shareddata.Captions(t, "laion-captions/test_10000.parquet")
	if len(caps) != 10000 {
		t.Fatalf("read %d captions, want 10,000", len(caps))
	}
	for i, c := range caps {
		caps[i] = Clean(c)
	}
	return caps
}

// proseTags tags a caption with prose.
func proseTags(t testing.TB, model *prose.Model, c string) ([]string, []string) {
	doc, err := prose.NewDocument(c, prose.UsingModel(model), prose.WithSegmentation(false), prose.WithExtraction(false))
	if err != nil {
		t.Fatal(err)
	}
	var words, tags []string
	for _, tk := range doc.Tokens() {
		words, tags = append(words, tk.Text), append(tags, tk.Tag)
	}
	return words, tags
}

// The fast tagger gives prose's tag for every token of the 10,000 real
// LAION captions. prose itself breaks exact score ties in map order, so it
// can tag one caption two ways; a difference counts only when prose never
// gives our tag in 50 runs of that caption.
func TestFastTaggerMatchesProse(t *testing.T) {
	caps := laionCaptions(t)
	// Generated captions too (accents, entities, numbers, hyphens, case,
	// non-ASCII: the paths the real ones seldom take), cleaned as the
	// matchers clean them.
	n := 30_000
	if testing.Short() {
		n = 3_000
	}
	for _, c := range generatedCaptions(rawLAION(t), n, 5) {
		caps = append(caps, Clean(c))
	}
	ft, err := postag.Shared()
	if err != nil {
		t.Fatal(err)
	}
	model, err := postag.ProseModel()
	if err != nil {
		t.Fatal(err)
	}
	sc := &postag.Scratch{}
	tokens, fallbacks, ties, diffs := 0, 0, 0, 0
	for _, c := range caps {
		words, want := proseTags(t, model, c)
		if _, ok := ft.Tag(words, sc, nil); !ok {
			fallbacks++
		}
		gotWords, gotTags := ft.TagCaption(c, sc)
		if len(gotWords) != len(words) || len(words) > 0 && !reflect.DeepEqual(gotWords, words) {
			t.Fatalf("%q: tokens %q, prose %q", c, gotWords, words)
		}
		tokens += len(words)
		if len(want) == 0 || reflect.DeepEqual(gotTags, want) {
			continue
		}
		got := append([]string(nil), gotTags...)
		tie := false
		for k := 0; k < 50 && !tie; k++ {
			_, again := proseTags(t, model, c)
			tie = reflect.DeepEqual(again, got)
		}
		if tie {
			ties++
			continue
		}
		for i := range words {
			if got[i] != want[i] {
				diffs++
				if diffs <= 10 {
					t.Errorf("%q token %d %q: got %s, prose %s", c, i, words[i], got[i], want[i])
				}
			}
		}
	}
	t.Logf("%d tokens of %d captions (10,000 real): %d captions through prose (possible emoticon), %d where prose itself varies (ties), %d differences", tokens, len(caps), fallbacks, ties, diffs)
	if diffs != 0 {
		t.Errorf("%d tags differ from every tagging prose gives", diffs)
	}
	if fallbacks > len(caps)/20 {
		t.Errorf("%d captions fell back to prose: the emoticon filter is too wide", fallbacks)
	}
}

func BenchmarkTagProse(b *testing.B) {
	caps := laionCaptions(b)
	model, _ := postag.ProseModel()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		prose.NewDocument(caps[i%len(caps)], prose.UsingModel(model), prose.WithSegmentation(false), prose.WithExtraction(false))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "captions/s")
}

func BenchmarkTagFast(b *testing.B) {
	caps := laionCaptions(b)
	ft, _ := postag.Shared()
	sc := &postag.Scratch{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ft.TagCaption(caps[i%len(caps)], sc)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "captions/s")
}

// BenchmarkTagRatio times prose and the fast tagger on the same captions
// in alternating rounds of one run (shared machines drift; a ratio within
// one run does not) and reports the speed-up. Each round starts after a
// collection, untimed, so neither pays for the other's garbage (prose
// allocates a lot; a run tags with one of them only), and is long enough
// (2,000 captions) for its tables to be in cache, as in a run.
func BenchmarkTagRatio(b *testing.B) {
	caps := laionCaptions(b)
	model, _ := postag.ProseModel()
	ft, _ := postag.Shared()
	sc := &postag.Scratch{}
	for _, c := range caps { // warm, as prose's model maps are
		ft.TagCaption(c, sc)
	}
	const round = 2000
	var tProse, tFast time.Duration
	n := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		runtime.GC()
		start := time.Now()
		for k := 0; k < round; k++ {
			prose.NewDocument(caps[(n+k)%len(caps)], prose.UsingModel(model), prose.WithSegmentation(false), prose.WithExtraction(false))
		}
		tProse += time.Since(start)
		runtime.GC()
		start = time.Now()
		for k := 0; k < round; k++ {
			ft.TagCaption(caps[(n+k)%len(caps)], sc)
		}
		tFast += time.Since(start)
		n += round
	}
	b.ReportMetric(float64(n)/tProse.Seconds(), "prose-captions/s")
	b.ReportMetric(float64(n)/tFast.Seconds(), "fast-captions/s")
	b.ReportMetric(tProse.Seconds()/tFast.Seconds(), "speedup")
}

// BenchmarkTaggerLoad is a run's start cost for the noun filter and the
// study rule: building the fast tagger, and loading prose's own tagger
// (which the emoticon probes use; done on another core meanwhile).
func BenchmarkTaggerLoad(b *testing.B) {
	b.Run("fast", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := postag.Load(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("prose", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := prose.NewDocument("", prose.WithSegmentation(false), prose.WithExtraction(false)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
