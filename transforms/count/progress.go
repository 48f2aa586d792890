package count

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/conceptfreq/conceptfreq/internal/report"
)

// Progress counts what the workers of one run have done, for a local run's
// progress line (on Dataflow the same figures are Beam metrics). The
// launcher makes one (NewProgress) and puts its ID in the Config; a worker
// of the same process finds it by that ID, a worker in another process
// finds none and counts only Beam's metrics.
type Progress struct {
	ID                       string
	Shards, Samples, Rejects atomic.Int64
}

// progressByID holds the Progress values of the runs of this process, so
// that a DoFn (a deserialised copy of its Config) finds its run's.
var progressByID sync.Map

// NewProgress makes a run's Progress; Release it when the run ends.
func NewProgress() *Progress {
	var b [8]byte
	rand.Read(b[:])
	p := &Progress{ID: hex.EncodeToString(b[:])}
	progressByID.Store(p.ID, p)
	return p
}

// Release forgets p: workers of its run no longer find it.
func (p *Progress) Release() { progressByID.Delete(p.ID) }

// progressFor returns the Progress of the run with that ID, or nil.
func progressFor(id string) *Progress {
	if id == "" {
		return nil
	}
	if p, ok := progressByID.Load(id); ok {
		return p.(*Progress)
	}
	return nil
}

// add counts one finished shard (nil-safe: a worker without its run's
// Progress counts nothing here).
func (p *Progress) add(samples, rejects int64) {
	if p == nil {
		return
	}
	p.Shards.Add(1)
	p.Samples.Add(samples)
	p.Rejects.Add(rejects)
}

// ProgressLine formats one progress line: shards done of total, samples,
// rate, rejects and the time left at the current shard rate.
func ProgressLine(shards, total, samples, rejects int64, elapsed time.Duration) string {
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(samples) / s
	}
	eta := "?"
	if shards > 0 && total > shards {
		left := time.Duration(float64(elapsed) / float64(shards) * float64(total-shards))
		if left < 10*time.Second {
			eta = left.Round(100 * time.Millisecond).String()
		} else {
			eta = left.Round(time.Second).String()
		}
	} else if total > 0 && shards >= total {
		eta = "0s"
	}
	return fmt.Sprintf("%d/%d shards, %s samples, %s samples/s, %s, ETA %s",
		shards, total, report.Thousands(samples), report.Thousands(int64(rate)), report.Plural(rejects, "reject"), eta)
}

// Report writes p's progress line to w at every tick (rewriting the line
// in place) until stop is closed, then a final line and a newline.
func (p *Progress) Report(w io.Writer, total int64, ticks <-chan time.Time, stop <-chan struct{}) {
	start := time.Now()
	line := func() string {
		return ProgressLine(p.Shards.Load(), total, p.Samples.Load(), p.Rejects.Load(), time.Since(start))
	}
	for {
		select {
		case <-stop:
			fmt.Fprintf(w, "\r%s\033[K\n", line())
			return
		case <-ticks:
			fmt.Fprintf(w, "\r%s\033[K", line())
		}
	}
}
