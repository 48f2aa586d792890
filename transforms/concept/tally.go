package concept

import "slices"

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
	// With --state: partials that could not be read, failed their
	// checksum or belonged to another shard or fingerprint (each shard
	// recounted; the first MaxDamagedListed listed as "path: what was
	// wrong"), and partials that could not be stored.
	PartialsDamaged   int64    `json:"partials_damaged"`
	DamagedPartials   []string `json:"partials_damaged_paths,omitempty"`
	PartialsNotStored int64    `json:"partials_not_stored"`
	// Similarity control: tagged images compared with the test sets, those
	// listed in near_duplicates/ (at or above the floor), and the
	// near-duplicates (at or above the threshold) by the test set of their
	// most similar test image. run_stats.json gives them once, in its
	// similarity_control summary.
	NearSearched   int64            `json:"-"`
	NearListed     int64            `json:"-"`
	NearDuplicates map[string]int64 `json:"-"`
}

// MaxDamagedListed bounds Stats.DamagedPartials; every damaged partial is
// counted in PartialsDamaged.
const MaxDamagedListed = 100

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
	s.PartialsDamaged += o.PartialsDamaged
	s.PartialsNotStored += o.PartialsNotStored
	s.NearSearched += o.NearSearched
	s.NearListed += o.NearListed
	for k, v := range o.NearDuplicates {
		if s.NearDuplicates == nil {
			s.NearDuplicates = map[string]int64{}
		}
		s.NearDuplicates[k] += v
	}
	for _, d := range o.DamagedPartials {
		if len(s.DamagedPartials) < MaxDamagedListed {
			s.DamagedPartials = append(s.DamagedPartials, d)
		}
	}
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
	// With similarity control: the text, image and matched counts of the
	// near-duplicate samples only (the _dissimilar counts are the totals
	// less these).
	NearText, NearImage, NearMatched int64
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
	t.NearText += o.NearText
	t.NearImage += o.NearImage
	t.NearMatched += o.NearMatched
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
	return t.Text == 0 && t.Image == 0 && t.Matched == 0 && t.TextOnly == 0 && t.ImageOnly == 0 && len(t.StudyMasks) == 0 &&
		t.NearText == 0 && t.NearImage == 0 && t.NearMatched == 0
}
