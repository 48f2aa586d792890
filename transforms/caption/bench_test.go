package caption

import (
	"runtime"
	"strconv"
	"testing"
	"unsafe"
)

// uniqueCaptions yields the real LAION captions made unique the way the
// bench's Parquet input is ("<caption> #<n>"), so that no cache keyed by
// caption or token can hide unseen input. All b.N are made before the timer
// starts, into one pointer-free arena (nothing for the GC to scan while the
// kernel runs).
type uniqueCaptions struct {
	b     *testing.B
	arena []byte
	ends  []int
	ms    runtime.MemStats
}

func newUniqueCaptions(b *testing.B) *uniqueCaptions {
	real := rawLAION(b)
	u := &uniqueCaptions{b: b, ends: make([]int, b.N)}
	for i := 0; i < b.N; i++ {
		u.arena = append(u.arena, real[i%len(real)]...)
		u.arena = append(u.arena, " #"...)
		u.arena = strconv.AppendInt(u.arena, int64(i), 10)
		u.ends[i] = len(u.arena)
	}
	runtime.GC()
	return u
}

// start begins the timed loop.
func (u *uniqueCaptions) start() {
	runtime.ReadMemStats(&u.ms)
	u.b.ResetTimer()
}

func (u *uniqueCaptions) at(i int) string {
	lo := 0
	if i > 0 {
		lo = u.ends[i-1]
	}
	return unsafe.String(&u.arena[lo], u.ends[i]-lo)
}

// report reports captions/s and heap allocations per caption.
func (u *uniqueCaptions) report() {
	u.b.StopTimer()
	var now runtime.MemStats
	runtime.ReadMemStats(&now)
	u.b.ReportMetric(float64(u.b.N)/u.b.Elapsed().Seconds(), "captions/s")
	u.b.ReportMetric(float64(now.Mallocs-u.ms.Mallocs)/float64(u.b.N), "allocs/caption")
}

// BenchmarkMatchUnique is the matcher kernel on one core, default
// vocabulary and rules, over unique real captions: "lexicon" is the
// matcher, "reference" the lemmatise-every-token path it replaced.
func BenchmarkMatchUnique(b *testing.B) {
	v, lem := defaults(b)
	for _, mode := range []struct {
		name string
		rule Rule
		pos  POS
	}{{"all-words", AllWords, POSNone}, {"phrase", Phrase, POSNone}, {"nouns", AllWords, POSNouns}} {
		m, err := NewMatcher(v, lem, mode.rule, mode.pos)
		if err != nil {
			b.Fatal(err)
		}
		for _, impl := range []string{"lexicon", "reference"} {
			b.Run(mode.name+"/"+impl, func(b *testing.B) {
				u := newUniqueCaptions(b)
				sc := m.NewScratch()
				var dst []int
				u.start()
				for i := 0; i < b.N; i++ {
					if impl == "lexicon" {
						dst = m.Match(u.at(i), sc, dst[:0])
					} else {
						dst = refMatch(m, u.at(i), sc, dst[:0])
					}
				}
				u.report()
			})
		}
	}
}

// BenchmarkStudyUnique is the study rule's per-caption work (clean, prose
// tokens, lazy tags, piece masks) on one core over unique real captions.
func BenchmarkStudyUnique(b *testing.B) {
	m := defaultStudyMatcher(b)
	u := newUniqueCaptions(b)
	sc := m.NewScratch()
	var dst []ConceptMask
	u.start()
	for i := 0; i < b.N; i++ {
		dst = m.Masks(u.at(i), sc, dst[:0])
	}
	u.report()
	if sc.tag != nil {
		b.ReportMetric(float64(sc.tag.Predictions())/float64(b.N), "predictions/caption")
	}
}

// defaults are the embedded default vocabulary and the English lemmatiser.
func defaults(tb testing.TB) (*Vocabulary, *Lemmatizer) {
	tb.Helper()
	v, err := DefaultVocabulary()
	if err != nil {
		tb.Fatal(err)
	}
	lem, err := English()
	if err != nil {
		tb.Fatal(err)
	}
	return v, lem
}

// defaultStudyMatcher is the study rule's matcher for the defaults.
func defaultStudyMatcher(tb testing.TB) *StudyMatcher {
	tb.Helper()
	m, err := NewStudyMatcher(defaults(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return m
}
