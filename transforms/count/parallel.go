package count

import (
	"github.com/conceptfreq/conceptfreq/transforms/caption"
)

// Text-only shards are matched by the goroutines of a MatchPool (Processor.Pool):
// the shard is read on the calling goroutine, captions go to the workers in
// batches, and the results are applied (tallies, stats, emitted rows) on the
// calling goroutine in input order, so outputs are the same as one
// goroutine's. One big shard (a 10-million-row Parquet file) keeps every
// core busy whatever the runner does with bundles: prism, for one, runs all
// of a stage's pending elements as one bundle and splits it only when its
// progress stalls.

const textBatchSize = 512

type textItem struct {
	key, text string
}

type textBatch struct {
	items   []textItem
	matched []int                 // Matcher: concepts, items' runs delimited by ends
	masks   []caption.ConceptMask // Study: masks, delimited by ends
	ends    []int
	done    chan struct{}
}

// textWorker is one worker's scratch, kept across shards (its tagger
// cache stays warm).
type textWorker struct {
	sc  *caption.Scratch
	ssc *caption.StudyScratch
}

// MatchPool is a set of caption-matching goroutines, each with its own
// scratch, shared by the Processors that hold it (Processor.Pool).
type MatchPool struct {
	jobs chan *textBatch
}

// NewMatchPool starts n matchers for p's rule (its Matcher or Study).
func NewMatchPool(p *Processor, n int) *MatchPool {
	mp := &MatchPool{jobs: make(chan *textBatch, n)}
	for i := 0; i < n; i++ {
		w := &textWorker{}
		if p.Study != nil {
			w.ssc = p.Study.NewScratch()
		} else {
			w.sc = p.Matcher.NewScratch()
		}
		go func() {
			for b := range mp.jobs {
				p.matchBatch(w, b)
			}
		}()
	}
	return mp
}

// Close stops the matchers.
func (mp *MatchPool) Close() { close(mp.jobs) }

// resetScratch drops p's per-goroutine state, for a copy of p that will
// run on another goroutine.
func (p *Processor) resetScratch() {
	p.sc, p.ssc, p.matched, p.masks, p.img = nil, nil, nil, nil, imageState{}
}

func (p *Processor) matchBatch(w *textWorker, b *textBatch) {
	b.matched, b.masks, b.ends = b.matched[:0], b.masks[:0], b.ends[:0]
	for _, it := range b.items {
		if p.Study != nil {
			b.masks = p.Study.Masks(it.text, w.ssc, b.masks)
			b.ends = append(b.ends, len(b.masks))
		} else {
			b.matched = p.Matcher.Match(it.text, w.sc, b.matched)
			b.ends = append(b.ends, len(b.matched))
		}
	}
	close(b.done)
}

// parallelText runs a shard's captions through the workers. add queues
// one caption; finish waits for and applies everything queued.
type parallelText struct {
	r       *shardRun
	jobs    chan *textBatch
	cur     *textBatch
	pending []*textBatch
	free    []*textBatch
}

func (r *shardRun) startParallel() *parallelText {
	return &parallelText{r: r, jobs: r.p.Pool.jobs}
}

func (pt *parallelText) add(key, text string) {
	if pt.cur == nil {
		if n := len(pt.free); n > 0 {
			pt.cur, pt.free = pt.free[n-1], pt.free[:n-1]
			pt.cur.items = pt.cur.items[:0]
		} else {
			pt.cur = &textBatch{}
		}
		pt.cur.done = make(chan struct{})
	}
	pt.cur.items = append(pt.cur.items, textItem{key, text})
	if len(pt.cur.items) == textBatchSize {
		pt.send()
	}
}

func (pt *parallelText) send() {
	b := pt.cur
	pt.cur = nil
	pt.jobs <- b
	pt.pending = append(pt.pending, b)
	// Apply what is done; keep at most a few batches per worker in flight.
	for len(pt.pending) > 0 {
		head := pt.pending[0]
		if len(pt.pending) <= 4 {
			select {
			case <-head.done:
			default:
				return
			}
		} else {
			<-head.done
		}
		pt.apply(head)
	}
}

// finish sends the last batch and applies every batch.
func (pt *parallelText) finish() {
	if pt.cur != nil && len(pt.cur.items) > 0 {
		b := pt.cur
		pt.cur = nil
		pt.jobs <- b
		pt.pending = append(pt.pending, b)
	}
	for len(pt.pending) > 0 {
		<-pt.pending[0].done
		pt.apply(pt.pending[0])
	}
}

func (pt *parallelText) apply(b *textBatch) {
	pt.pending = pt.pending[1:]
	start := 0
	for i, it := range b.items {
		end := b.ends[i]
		if pt.r.p.Study != nil {
			pt.r.studyResult(b.masks[start:end])
		} else {
			pt.r.textResult(it.key, it.text, b.matched[start:end])
		}
		start = end
	}
	pt.free = append(pt.free, b)
}
