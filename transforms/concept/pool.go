package concept

// Text-only shards are matched by the goroutines of a MatchPool (Processor.Pool):
// the shard is read on the calling goroutine, captions go to the workers in
// batches, and the results are applied (tallies, stats, emitted rows) on the
// calling goroutine in input order, so outputs are the same as one
// goroutine's. One big shard (a 10-million-row Parquet file) keeps every
// core busy whatever the runner does with bundles: prism, for one, runs all
// of a stage's pending elements as one bundle and splits it only when its
// progress stalls.

// A batch of captions goes to a matcher when it holds textBatchSize
// captions or textBatchBytes of text, whichever comes first; at most a
// few batches per shard are in flight (send), so the captions a shard
// holds between reading and tallying are bounded by bytes as well as by
// count, whatever their length.
const (
	textBatchSize  = 512
	textBatchBytes = 1 << 20
)

type textItem struct {
	key, text string
}

type textBatch struct {
	items []textItem
	bytes int    // of the items' keys and texts
	res   Result // every item's matches, item i's ending at cEnds[i] and mEnds[i]
	cEnds []int
	mEnds []int
	done  chan struct{}
}

// MatchPool is a set of caption-matching goroutines, each with its own
// scratch, shared by the Processors that hold it (Processor.Pool).
type MatchPool struct {
	jobs chan *textBatch
}

// NewMatchPool starts n matchers for the rule, each with its own scratch
// (kept across shards).
func NewMatchPool(rule Rule, n int) *MatchPool {
	mp := &MatchPool{jobs: make(chan *textBatch, n)}
	for i := 0; i < n; i++ {
		sc := rule.NewScratch()
		go func() {
			for b := range mp.jobs {
				matchBatch(sc, b)
			}
		}()
	}
	return mp
}

// Close stops the matchers.
func (mp *MatchPool) Close() { close(mp.jobs) }

func matchBatch(sc Scratch, b *textBatch) {
	b.res.reset()
	b.cEnds, b.mEnds = b.cEnds[:0], b.mEnds[:0]
	for _, it := range b.items {
		sc.Match(it.text, &b.res)
		b.cEnds = append(b.cEnds, len(b.res.Concepts))
		b.mEnds = append(b.mEnds, len(b.res.Masks))
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
			pt.cur.items, pt.cur.bytes = pt.cur.items[:0], 0
		} else {
			pt.cur = &textBatch{}
		}
		pt.cur.done = make(chan struct{})
	}
	pt.cur.items = append(pt.cur.items, textItem{key, text})
	pt.cur.bytes += len(key) + len(text)
	if len(pt.cur.items) == textBatchSize || pt.cur.bytes >= textBatchBytes {
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
	cs, ms := 0, 0
	for i, it := range b.items {
		ce, me := b.cEnds[i], b.mEnds[i]
		res := Result{Concepts: b.res.Concepts[cs:ce], Masks: b.res.Masks[ms:me]}
		pt.r.tallyCaption(&res)
		pt.r.emitSample(it.key, it.text, res.Concepts)
		cs, ms = ce, me
	}
	clear(b.items) // a free batch holds no caption
	b.items, b.bytes = b.items[:0], 0
	pt.free = append(pt.free, b)
}
