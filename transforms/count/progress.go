package count

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/conceptfreq/conceptfreq/internal/report"
)

// Progress counts what the workers of this process have done, for a local
// run's progress line (on Dataflow the same figures are Beam metrics).
var Progress struct {
	Shards, Samples, Rejects atomic.Int64
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
	return fmt.Sprintf("%d/%d shards, %s samples, %s samples/s, %s rejects, ETA %s",
		shards, total, report.Thousands(samples), report.Thousands(int64(rate)), report.Thousands(rejects), eta)
}

// ReportProgress writes a progress line to w every interval (rewriting the
// line in place) until stop is closed, then a final line and a newline.
func ReportProgress(w io.Writer, total int64, interval time.Duration, stop <-chan struct{}) {
	start := time.Now()
	line := func() string {
		return ProgressLine(Progress.Shards.Load(), total, Progress.Samples.Load(), Progress.Rejects.Load(), time.Since(start))
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			fmt.Fprintf(w, "\r%s\033[K\n", line())
			return
		case <-t.C:
			fmt.Fprintf(w, "\r%s\033[K", line())
		}
	}
}
