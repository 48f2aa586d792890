package count

import (
	"github.com/conceptfreq/conceptfreq/io/reject"

	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/conceptfreq/conceptfreq/io/files"
	"github.com/conceptfreq/conceptfreq/io/shard"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
)

// Reject reasons are io/shard's (caption and shard-level) and the
// image-side ones below.

// Image-side reject reasons: the sample's caption is still counted for
// text_count; only the image-side columns miss it.
const (
	RejectImageMissing     = reject.ImageMissing
	RejectImageDecode      = reject.ImageDecode
	RejectImageUnsupported = reject.ImageUnsupported
	RejectImageTooLarge    = reject.ImageTooLarge
	RejectImageNoScores    = reject.ImageNoScores
)

// IsImageReason reports whether a reject reason is image-side (the sample's
// text was counted).
func IsImageReason(reason string) bool { return strings.HasPrefix(reason, "image_") }

// Stats are the per-shard (and, merged, per-run) tallies. Every sample read
// is either counted (SamplesWithCaption) or rejected for its caption:
// SamplesRead == SamplesWithCaption + caption rejects. With image tagging,
// SamplesRead == ImagesTagged + image rejects as well.
type Stats struct {
	ShardsRead             int64            `json:"shards_read"`
	ShardsFailed           int64            `json:"shards_failed"`
	ShardsReused           int64            `json:"shards_reused"`            // --state: taken from a kept partial, not processed
	SamplesInFailedShards  int64            `json:"samples_in_failed_shards"` // read (and counted or rejected) before the shard failed
	SamplesRead            int64            `json:"samples_read"`
	SamplesWithCaption     int64            `json:"samples_with_caption"`
	SamplesMatched         int64            `json:"samples_with_concept"`
	ImagesTagged           int64            `json:"images_tagged"`
	ImagesWithConcept      int64            `json:"images_with_concept"`
	MisalignmentConsidered int64            `json:"misalignment_considered"`
	TaggedWithTextConcept  int64            `json:"tagged_with_caption_concept"` // tagged samples whose caption mentions a concept the tagger knows
	Misaligned             int64            `json:"misaligned_samples"`
	Rejects                map[string]int64 `json:"rejects"`
}

// Merge adds o into s.
func (s *Stats) Merge(o Stats) {
	s.ShardsRead += o.ShardsRead
	s.ShardsFailed += o.ShardsFailed
	s.ShardsReused += o.ShardsReused
	s.SamplesInFailedShards += o.SamplesInFailedShards
	s.SamplesRead += o.SamplesRead
	s.SamplesWithCaption += o.SamplesWithCaption
	s.SamplesMatched += o.SamplesMatched
	s.ImagesTagged += o.ImagesTagged
	s.ImagesWithConcept += o.ImagesWithConcept
	s.MisalignmentConsidered += o.MisalignmentConsidered
	s.TaggedWithTextConcept += o.TaggedWithTextConcept
	s.Misaligned += o.Misaligned
	for k, v := range o.Rejects {
		if s.Rejects == nil {
			s.Rejects = map[string]int64{}
		}
		s.Rejects[k] += v
	}
}

// Tally is one concept's counts. The image-side fields count only samples
// whose image was tagged.
type Tally struct {
	Text      int64 // caption mentions the concept
	Image     int64 // tagger scores the concept above the threshold
	Matched   int64 // both
	TextOnly  int64 // caption, not image (tagged samples only)
	ImageOnly int64 // image, not caption
	// With the study rule: the histogram of the concept's piece masks over
	// samples holding at least one piece (parallel, sorted by mask). It
	// composes by addition; caption.StudyCount resolves it.
	StudyMasks  []uint64
	StudyCounts []int64
}

// Add adds o into t.
func (t *Tally) Add(o Tally) {
	t.Text += o.Text
	t.Image += o.Image
	t.Matched += o.Matched
	t.TextOnly += o.TextOnly
	t.ImageOnly += o.ImageOnly
	if len(o.StudyMasks) > 0 {
		h := t.StudyHist()
		for i, m := range o.StudyMasks {
			h[m] += o.StudyCounts[i]
		}
		t.SetStudyHist(h)
	}
}

// StudyHist returns the study-rule histogram as a map.
func (t Tally) StudyHist() map[uint64]int64 {
	h := make(map[uint64]int64, len(t.StudyMasks))
	for i, m := range t.StudyMasks {
		h[m] += t.StudyCounts[i]
	}
	return h
}

// SetStudyHist stores a histogram, sorted by mask.
func (t *Tally) SetStudyHist(h map[uint64]int64) {
	t.StudyMasks, t.StudyCounts = t.StudyMasks[:0], t.StudyCounts[:0]
	for m := range h {
		t.StudyMasks = append(t.StudyMasks, m)
	}
	slices.Sort(t.StudyMasks)
	for _, m := range t.StudyMasks {
		t.StudyCounts = append(t.StudyCounts, h[m])
	}
}

// IsZero reports whether every count is zero.
func (t Tally) IsZero() bool {
	return t.Text == 0 && t.Image == 0 && t.Matched == 0 && t.TextOnly == 0 && t.ImageOnly == 0 && len(t.StudyMasks) == 0
}

// Emitters receive what ProcessShard produces besides counts. Score and
// Sample may be nil.
type Emitters struct {
	Reject func(tables.Reject)
	Score  func(tables.ScoreRow)
	Sample func(tables.SampleRow)
}

// Processor counts the concepts in one shard at a time. It holds
// per-goroutine scratch space: use one Processor per goroutine.
type Processor struct {
	Matcher       *caption.Matcher
	Study         *caption.StudyMatcher // the study rule, instead of Matcher
	Names         []string              // vocabulary names, for emitted rows
	CaptionExt    string                // WebDataset member holding the caption, default "txt"
	CaptionColumn string                // Parquet caption column, default auto-detected
	EmitSamples   bool                  // emit a SampleRow per sample (text-only runs; tagged samples with Image)
	Image         *ImageSide
	// Pool, when set, matches a text-only shard's captions on its
	// goroutines (results applied in input order: the same outputs); it
	// may be shared with other Processors.
	Pool *MatchPool

	sc      *caption.Scratch
	matched []int
	img     imageState
	ssc     *caption.StudyScratch
	masks   []caption.ConceptMask
}

// SetRule compiles v for the match rule and POS mode into p (its Matcher,
// or its Study matcher for the study rule).
func (p *Processor) SetRule(v *caption.Vocabulary, lem *caption.Lemmatizer, rule caption.Rule, pos caption.POS) error {
	var err error
	if rule == caption.Study {
		p.Study, err = caption.NewStudyMatcher(v, lem)
	} else {
		p.Matcher, err = caption.NewMatcher(v, lem, rule, pos)
	}
	return err
}

// shardRun is the state of one ProcessShard call.
type shardRun struct {
	p      *Processor
	path   string
	counts []Tally
	out    Emitters
	st     Stats
	hist   map[int]map[uint64]int64  // study rule: concept → piece-mask histogram
	saved  map[string][]conceptScore // recount mode: this shard's saved scores by sample key
}

func (r *shardRun) reject(key, reason, detail string) {
	r.st.Rejects[reason]++
	r.out.Reject(tables.Reject{Shard: r.path, Key: key, Reason: reason, Detail: detail})
}

// sample handles one sample: its caption (ok false when rejected) and, for
// WebDataset samples, its members.
func (r *shardRun) sample(key, text string, ok bool, members map[string][]byte) error {
	p := r.p
	var textConcepts []int
	if ok && p.Study != nil {
		// The study rule: piece masks now, counts once the whole input is
		// known (caption.StudyCount in the writer).
		p.masks = p.Study.Masks(text, p.ssc, p.masks[:0])
		r.studyResult(p.masks)
		return nil
	}
	if ok {
		p.matched = p.Matcher.Match(text, p.sc, p.matched[:0])
		textConcepts = p.matched
	}
	if p.Image == nil {
		if ok {
			r.textResult(key, text, textConcepts)
		}
		return nil
	}
	if ok {
		r.tallyText(textConcepts)
	}
	return r.image(key, text, textConcepts, members)
}

// studyResult tallies one caption's piece masks.
func (r *shardRun) studyResult(masks []caption.ConceptMask) {
	r.st.SamplesWithCaption++
	if len(masks) > 0 {
		r.st.SamplesMatched++
	}
	for _, cm := range masks {
		h := r.hist[cm.Concept]
		if h == nil {
			h = map[uint64]int64{}
			r.hist[cm.Concept] = h
		}
		h[cm.Mask]++
	}
}

// tallyText tallies one caption's concepts.
func (r *shardRun) tallyText(concepts []int) {
	r.st.SamplesWithCaption++
	if len(concepts) > 0 {
		r.st.SamplesMatched++
	}
	for _, ci := range concepts {
		r.counts[ci].Text++
	}
}

// textResult tallies a text-only run's caption and emits its sample row.
func (r *shardRun) textResult(key, text string, concepts []int) {
	r.tallyText(concepts)
	p := r.p
	if p.EmitSamples && r.out.Sample != nil {
		names := make([]string, len(concepts))
		for i, c := range concepts {
			names[i] = p.Names[c]
		}
		r.out.Sample(tables.SampleRow{Shard: r.path, Key: key, Caption: text, TextConcepts: names})
	}
}

// ProcessShard reads one shard, tallies every sample's concepts into counts
// (one slot per vocabulary concept) and reports every sample it cannot
// count, and optional score and sample rows, to out. With image tagging,
// images queue into batches that run when full, whatever shard they came
// from (their tallies land in the counts of the call that runs the batch);
// call Flush for the last, partial batch.
//
// Problems with the shard itself become a shard-level reject; the returned
// error is for failures that are not the data's fault (the image tagger
// failing), which should stop the job.
func (p *Processor) ProcessShard(ctx context.Context, open files.OpenFunc, path string, counts []Tally, out Emitters) (Stats, error) {
	switch {
	case p.Image == nil && p.Pool != nil: // the matchers have their own scratch
	case p.Study != nil:
		if p.ssc == nil {
			p.ssc = p.Study.NewScratch()
		}
	case p.sc == nil:
		p.sc = p.Matcher.NewScratch()
	}
	r := &shardRun{p: p, path: path, counts: counts, out: out, st: Stats{Rejects: map[string]int64{}}, hist: map[int]map[uint64]int64{}}
	defer func() {
		for c, h := range r.hist {
			r.counts[c].SetStudyHist(h)
		}
	}()
	if p.Image != nil && p.Image.LoadSaved != nil {
		var err error
		if r.saved, err = p.Image.LoadSaved(ctx, path); err != nil {
			return r.st, err
		}
	}
	// The one per-shard loop, whatever the shard's format: every sample the
	// source yields is counted or rejected with its reason.
	// A text-only run does not read image bytes.
	opts := shard.Options{CaptionExt: p.CaptionExt, CaptionColumn: p.CaptionColumn, TextOnly: p.Image == nil}
	var par *parallelText
	if p.Image == nil && p.Pool != nil {
		par = r.startParallel()
	}
	err := shard.ForEach(ctx, open, path, opts, func(s *shard.Sample) error {
		r.st.SamplesRead++
		if s.Reject != "" {
			r.reject(s.Key, s.Reject, s.Detail)
		}
		if par != nil {
			if s.Reject == "" {
				par.add(s.Key, s.Caption)
			}
			return nil
		}
		return r.sample(s.Key, s.Caption, s.Reject == "", s.Members)
	})
	if par != nil {
		par.finish()
	}
	var f *shard.Failure
	switch {
	case err == nil:
		r.st.ShardsRead++
	case errors.As(err, &f):
		r.st.ShardsFailed++
		r.st.SamplesInFailedShards = r.st.SamplesRead
		r.st.Rejects[f.Reason]++
		out.Reject(tables.Reject{Shard: path, Reason: f.Reason, Detail: err.Error()})
	default:
		return r.st, fmt.Errorf("count: shard %s: %w", path, err)
	}
	return r.st, nil
}
