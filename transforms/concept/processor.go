// Package concept is the count job's core, as plain Go: a Processor reads
// one shard at a time, matches every sample's caption with a Rule (and
// tags its image with an imagetag.Side), and tallies per-concept counts,
// statistics and the rows of samples it cannot count. It runs and
// benchmarks without Beam; transforms/count is the thin Beam layer over
// it.
package concept

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/conceptfreq/conceptfreq/io/paths"
	"github.com/conceptfreq/conceptfreq/io/reject"
	"github.com/conceptfreq/conceptfreq/io/shard"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/models/preprocess"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
	"github.com/conceptfreq/conceptfreq/transforms/imagetag"
	"github.com/conceptfreq/conceptfreq/transforms/neardup"
)

// IsImageReason reports whether a reject reason is image-side (the sample's
// text was counted).
func IsImageReason(reason string) bool { return strings.HasPrefix(reason, "image_") }

// Emitters receive what ProcessShard produces besides counts. Score,
// Sample and Near may be nil.
type Emitters struct {
	Reject func(tables.Reject)
	Score  func(tables.ScoreRow)
	Sample func(tables.SampleRow)
	Near   func(tables.NearRow)
}

// Processor counts the concepts in one shard at a time. It holds
// per-goroutine scratch space: use one Processor per goroutine.
type Processor struct {
	Rule          Rule
	Names         []string // vocabulary names, for emitted rows
	CaptionExt    string   // WebDataset member holding the caption, default "txt"
	CaptionColumn string   // Parquet caption column, default auto-detected
	EmitSamples   bool     // emit a SampleRow per sample (text-only runs; tagged samples with Image)
	Image         *imagetag.Side
	// Pool, when set, matches a text-only shard's captions on its
	// goroutines (results applied in input order: the same outputs); it
	// may be shared with other Processors.
	Pool *MatchPool

	sc  Scratch
	res Result
	img imageState
}

// SetRule compiles v for the match rule and POS mode into p.Rule, or
// takes the process's compiled rule for the same vocabulary, rule and mode
// (SharedRule).
func (p *Processor) SetRule(v *caption.Vocabulary, lem *caption.Lemmatizer, rule caption.Rule, pos caption.POS) error {
	var err error
	p.Rule, err = SharedRule(v, lem, rule, pos)
	return err
}

// ResetScratch drops p's per-goroutine state, for a copy of p that will
// run on another goroutine.
func (p *Processor) ResetScratch() {
	p.sc, p.res, p.img = nil, Result{}, imageState{}
}

// shardRun is the state of one ProcessShard call.
type shardRun struct {
	p      *Processor
	path   string
	counts *Counts
	out    Emitters
	st     Stats
	hist   map[int]map[uint64]int64           // study rule: concept → piece-mask histogram
	saved  map[string][]imagetag.ConceptScore // recount mode: this shard's saved scores by sample key
}

func (r *shardRun) reject(key, reason, detail string) {
	r.st.Rejects[reason]++
	r.out.Reject(tables.Reject{Shard: r.path, Key: key, Reason: reason, Detail: detail})
}

// sample handles one sample: its caption (ok false when rejected) and, for
// WebDataset samples, its members.
func (r *shardRun) sample(key, text string, ok bool, members map[string][]byte) error {
	p := r.p
	res := &p.res
	res.reset()
	if ok {
		p.sc.Match(text, res)
		r.tallyCaption(res)
	}
	if p.Image == nil {
		if ok {
			r.emitSample(key, text, res.Concepts)
		}
		return nil
	}
	return r.image(key, text, res.Concepts, members)
}

// tallyCaption counts one caption's matches: its concepts' text counts,
// or the study rule's piece masks.
func (r *shardRun) tallyCaption(res *Result) {
	r.st.SamplesWithCaption++
	if res.any() {
		r.st.SamplesMatched++
	}
	for _, ci := range res.Concepts {
		r.counts.At(ci).Text++
	}
	for _, cm := range res.Masks {
		h := r.hist[cm.Concept]
		if h == nil {
			h = map[uint64]int64{}
			r.hist[cm.Concept] = h
		}
		h[cm.Mask]++
	}
}

// emitSample emits a text-only run's sample row.
func (r *shardRun) emitSample(key, text string, concepts []int) {
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
func (p *Processor) ProcessShard(ctx context.Context, open paths.OpenFunc, path string, counts *Counts, out Emitters) (Stats, error) {
	if p.sc == nil && (p.Image != nil || p.Pool == nil) { // (the pool's matchers have their own)
		p.sc = p.Rule.NewScratch()
	}
	r := &shardRun{p: p, path: path, counts: counts, out: out, st: Stats{Rejects: map[string]int64{}}, hist: map[int]map[uint64]int64{}}
	defer func() {
		for c, h := range r.hist {
			r.counts.At(c).SetStudyHist(h)
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
	if jerr := r.join(); jerr != nil && err == nil {
		// This shard's batches are tallied before it returns (the filling
		// batch may go on into the next shard).
		return r.st, jerr
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
		return r.st, fmt.Errorf("shard %s: %w", path, err)
	}
	return r.st, nil
}

// imageExts are tried in order for a sample's image member.
var imageExts = []string{"jpg", "jpeg", "png", "webp", "gif"}

type pendingSample struct {
	shard, key, caption string
	text                []int // vocabulary indices in the caption
}

// imageState is a Processor's image queue: two batch buffers, one filling
// (its images decoded by up to GOMAXPROCS goroutines of the process, each
// into its slot of the batch tensor) while the other is in the model, so
// decoding runs on every core while the model runs. Memory is bounded by
// the two batches: 2 × --batch_size tensors and their samples' image
// bytes.
type imageState struct {
	bufs   [2]*batchBuf
	cur    int
	scores [][]float64 // the saved-scores replay's row
	inText []bool
}

// batchBuf is one batch: its samples, their tensors (slot i at
// i·stride), and, while the model runs it, the run that flushed it.
type batchBuf struct {
	tensor  []float32
	stride  int
	pending []pendingSample
	errs    []error  // per slot: the decode error (nil: decoded)
	formats []string // per slot: the image format, for reject details
	rows    [][]float64
	emb     []float32       // similarity control: the batch's image embeddings
	near    []neardup.Match // and each one's most similar test image
	wg      sync.WaitGroup
	done    chan error
	r       *shardRun // the run that flushed it, which tallies it
	n       int       // decoded images sent to the model
	running bool
}

// decoders bounds the images decoded at once in the process: one per core.
var decoders = make(chan struct{}, runtime.GOMAXPROCS(0))

func (st *imageState) buf() *batchBuf {
	if st.bufs[st.cur] == nil {
		st.bufs[st.cur] = &batchBuf{done: make(chan error, 1)}
	}
	return st.bufs[st.cur]
}

// image queues a sample's image for tagging (or replays its saved scores).
func (r *shardRun) image(key, caption string, text []int, members map[string][]byte) error {
	side := r.p.Image
	ps := pendingSample{shard: r.path, key: key, caption: caption, text: append([]int(nil), text...)}
	if side.LoadSaved != nil {
		saved, ok := r.saved[key]
		if !ok {
			r.reject(key, reject.ImageNoScores, "no saved scores for this sample (text counted)")
			return nil
		}
		scores := r.scoreRow(0)
		for i := range scores {
			scores[i] = math.NaN()
			if side.Known[i] {
				scores[i] = 0
			}
		}
		for _, cs := range saved {
			scores[cs.Concept] = float64(cs.Score)
		}
		r.tally(ps, scores, nil)
		return nil
	}
	var data []byte
	for _, e := range imageExts {
		if b, ok := members[e]; ok {
			data = b
			break
		}
	}
	if data == nil {
		r.reject(key, reject.ImageMissing, "no image member (text counted)")
		return nil
	}
	b := r.p.img.buf()
	opts := side.Tagger.Options()
	size := max(side.BatchSize, 1)
	stride := 3 * opts.Size * opts.Size
	if len(b.pending) == 0 && (b.stride != stride || len(b.tensor) != size*stride) {
		b.stride, b.tensor = stride, make([]float32, size*stride)
	}
	if len(b.errs) < size { // fixed while decoders write their slots
		b.errs, b.formats = make([]error, size), make([]string, size)
	}
	i := len(b.pending)
	b.pending = append(b.pending, ps)
	errs, formats, tensor := b.errs, b.formats, b.tensor
	b.wg.Add(1)
	decoders <- struct{}{}
	go func() {
		defer func() {
			// A decoder that panics on a hostile file rejects that image,
			// instead of taking the worker process down.
			if p := recover(); p != nil {
				errs[i] = fmt.Errorf("%w: decoder panic: %v", preprocess.ErrDecode, p)
			}
			<-decoders
			b.wg.Done()
		}()
		slot := tensor[i*stride : i*stride : (i+1)*stride]
		out, format, err := side.Decoding.Tensor(data, opts, slot)
		formats[i], errs[i] = format, err
		if err == nil && len(out) == stride && &out[0] != &slot[:1][0] {
			copy(slot[:stride], out) // (never: the slot has the capacity)
		}
	}()
	if len(b.pending) >= size {
		return r.flush()
	}
	return nil
}

func (r *shardRun) scoreRow(i int) []float64 {
	st := &r.p.img
	for len(st.scores) <= i {
		st.scores = append(st.scores, make([]float64, r.counts.Len()))
	}
	return st.scores[i]
}

// Flush tags the images still queued (a partial batch), tallying them into
// counts and emitting their rows to out. The queue outlives ProcessShard so
// that batches fill across the shards of a bundle: the Beam layer calls
// Flush at the end of each bundle, and standalone users after their last
// shard.
func (p *Processor) Flush(counts *Counts, out Emitters) (Stats, error) {
	r := &shardRun{p: p, counts: counts, out: out, st: Stats{Rejects: map[string]int64{}}}
	err := r.flush()
	if jerr := r.join(); err == nil {
		err = jerr
	}
	return r.st, err
}

// flush sends the filling batch to the model, once its images are
// decoded (those that failed become rejects of their own shard), and
// starts filling the other buffer; the batch in the model before it is
// tallied first.
func (r *shardRun) flush() error {
	st := &r.p.img
	if r.p.Image == nil || r.p.Image.Tagger == nil || st.bufs[st.cur] == nil || len(st.bufs[st.cur].pending) == 0 {
		return nil
	}
	b := st.buf()
	b.wg.Wait()
	n := 0
	for i, ps := range b.pending {
		if err := b.errs[i]; err != nil {
			reason := preprocess.RejectReason(err)
			r.st.Rejects[reason]++
			r.out.Reject(tables.Reject{Shard: ps.shard, Key: ps.key, Reason: reason, Detail: fmt.Sprintf("%s image: %v (text counted)", b.formats[i], err)})
			continue
		}
		if n != i {
			copy(b.tensor[n*b.stride:(n+1)*b.stride], b.tensor[i*b.stride:(i+1)*b.stride])
			b.pending[n] = ps
		}
		n++
	}
	clear(b.errs)
	b.pending = b.pending[:n]
	if err := r.join(); err != nil { // the other buffer: at most one batch in the model
		return err
	}
	st.cur = 1 - st.cur
	if n == 0 {
		return nil
	}
	for len(b.rows) < n {
		b.rows = append(b.rows, make([]float64, r.counts.Len()))
	}
	b.r, b.n, b.running = r, n, true
	side := r.p.Image
	go func() {
		defer func() {
			if p := recover(); p != nil {
				b.done <- fmt.Errorf("imagetag: tagger panic: %v\n%s", p, debug.Stack())
			}
		}()
		b.done <- b.run(side, n)
	}()
	return nil
}

// run tags the batch's n images and, with similarity control, finds each
// one's most similar test image.
func (b *batchBuf) run(side *imagetag.Side, n int) error {
	if side.Near == nil {
		return side.Tagger.Tag(b.tensor[:n*b.stride], n, b.rows[:n])
	}
	e, ok := side.Tagger.(imagetag.Embedder)
	if !ok {
		return fmt.Errorf("imagetag: similarity control needs a tagger that gives image embeddings")
	}
	if b.emb == nil {
		b.emb = []float32{}
	}
	var err error
	// (The embeddings' width was checked against the test embeddings' at
	// launch; Nearest checks it again.)
	if b.emb, err = e.TagEmbed(b.tensor[:n*b.stride], n, b.rows[:n], b.emb[:0]); err != nil {
		return err
	}
	if len(b.near) < n {
		b.near = make([]neardup.Match, n)
	}
	if err := side.Near.Nearest(b.emb, n, b.near[:n]); err != nil {
		return fmt.Errorf("imagetag: near-duplicate search: %w", err)
	}
	return nil
}

// join waits for the batch in the model, if any, and tallies it into the
// run that flushed it.
func (r *shardRun) join() error {
	for _, b := range r.p.img.bufs {
		if b == nil || !b.running {
			continue
		}
		err := <-b.done
		b.running = false
		pending := b.pending
		b.pending = b.pending[:0]
		if err != nil {
			return err
		}
		for i, ps := range pending[:b.n] {
			var near *neardup.Match
			if r.p.Image.Near != nil {
				near = &b.near[i]
			}
			b.r.tally(ps, b.rows[i], near)
		}
	}
	return nil
}

// tally counts one tagged sample: image, matched, text-only and image-only
// counts, misalignment, the optional rows and, with similarity control
// (near: its most similar test image), its near-duplicate status.
func (r *shardRun) tally(ps pendingSample, scores []float64, near *neardup.Match) {
	side := r.p.Image
	st := &r.p.img
	if len(st.inText) != r.counts.Len() {
		st.inText = make([]bool, r.counts.Len())
	}
	for _, c := range ps.text {
		st.inText[c] = true
	}
	r.st.ImagesTagged++
	isNear := near != nil && r.nearDuplicate(ps, *near)
	var imageConcepts []string
	var row tables.ScoreRow
	imageAny, textKnown, overlap := false, false, false
	for c, s := range scores {
		if math.IsNaN(s) {
			continue // unknown to the tagger
		}
		inImage := s > side.Threshold
		if side.EmitScores && s >= side.ScoreFloor {
			row.Concepts = append(row.Concepts, r.p.Names[c])
			row.Scores = append(row.Scores, float32(s))
		}
		if !inImage && !st.inText[c] {
			continue
		}
		t := r.counts.At(c)
		if isNear && inImage {
			t.NearImage++
			if st.inText[c] {
				t.NearMatched++
			}
		}
		switch {
		case inImage && st.inText[c]:
			t.Image++
			t.Matched++
			overlap = true
		case inImage:
			t.Image++
			t.ImageOnly++
		case st.inText[c]:
			t.TextOnly++
		}
		if st.inText[c] {
			textKnown = true
		}
		if inImage {
			imageAny = true
			if r.p.EmitSamples {
				imageConcepts = append(imageConcepts, r.p.Names[c])
			}
		}
	}
	if imageAny {
		r.st.ImagesWithConcept++
	}
	if textKnown {
		r.st.TaggedWithTextConcept++
	}
	// The study's misalignment: both sets non-empty (over concepts the tagger
	// knows) and disjoint.
	if imageAny && textKnown {
		r.st.MisalignmentConsidered++
		if !overlap {
			r.st.Misaligned++
		}
	}
	if side.EmitScores && r.out.Score != nil {
		row.Shard, row.Key = ps.shard, ps.key
		r.out.Score(row)
	}
	if r.p.EmitSamples && r.out.Sample != nil {
		text := make([]string, 0, len(ps.text))
		for _, c := range ps.text {
			text = append(text, r.p.Names[c])
		}
		r.out.Sample(tables.SampleRow{Shard: ps.shard, Key: ps.key, Caption: ps.caption, TextConcepts: text, ImageConcepts: imageConcepts})
	}
	for _, c := range ps.text {
		st.inText[c] = false
		if isNear {
			r.counts.At(c).NearText++
		}
	}
}

// nearDuplicate records a tagged sample's most similar test image: a
// near_duplicates/ row from the floor, a near-duplicate from the
// threshold.
func (r *shardRun) nearDuplicate(ps pendingSample, m neardup.Match) bool {
	side := r.p.Image
	r.st.NearSearched++
	if m.Index < 0 || m.Similarity < side.NearFloor {
		return false
	}
	x := side.NearIndex
	isNear := m.Similarity >= side.NearThreshold
	r.st.NearListed++
	if isNear {
		if r.st.NearDuplicates == nil {
			r.st.NearDuplicates = map[string]int64{}
		}
		r.st.NearDuplicates[x.Dataset[m.Index]]++
	}
	if r.out.Near != nil {
		r.out.Near(tables.NearRow{Shard: ps.shard, Key: ps.key, Dataset: x.Dataset[m.Index], TestKey: x.Key[m.Index],
			TestLabel: x.Label[m.Index], Similarity: m.Similarity, NearDuplicate: isNear})
	}
	return isNear
}
