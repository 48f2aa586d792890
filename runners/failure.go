package runners

import (
	"context"
	"log/slog"
	"strings"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

// Execute runs p (Run) as a command does. Without verbose, the local
// runner's log lines are not printed, and a failed job's error is one
// line: the error the failing step returned (the file, the shard, what was
// wrong), which prism reports only inside kilobytes of ERROR trace lines,
// and not in the error it returns. With verbose, every line is printed and
// the error is the runner's own, whole.
func Execute(ctx context.Context, p *beam.Pipeline, verbose bool) (beam.PipelineResult, error) {
	if verbose {
		return Run(ctx, p)
	}
	h := &causeHandler{}
	old := slog.Default()
	slog.SetDefault(slog.New(h))
	defer slog.SetDefault(old)
	res, err := Run(ctx, p)
	if err == nil {
		return res, nil
	}
	if cause := h.first(); cause != "" {
		return res, &JobError{Cause: cause, err: err}
	}
	return res, &JobError{Cause: firstLine(err.Error()), err: err}
}

// JobError is a failed job: Cause is the one line a command prints.
type JobError struct {
	Cause string
	err   error
}

func (e *JobError) Error() string { return e.Cause }
func (e *JobError) Unwrap() error { return e.err }

// causeHandler keeps the cause of the first failure the runner logs and
// drops every record.
type causeHandler struct {
	mu    sync.Mutex
	cause string
}

func (h *causeHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *causeHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *causeHandler) WithGroup(string) slog.Handler            { return h }

func (h *causeHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level < slog.LevelError {
		return nil
	}
	texts := []string{r.Message}
	r.Attrs(func(a slog.Attr) bool {
		texts = append(texts, a.Value.String())
		return true
	})
	for _, t := range texts {
		if c := FailureCause(t); c != "" {
			h.mu.Lock()
			if h.cause == "" {
				h.cause = c
			}
			h.mu.Unlock()
			break
		}
	}
	return nil
}

func (h *causeHandler) first() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cause
}

// FailureCause finds, in a Beam bundle failure's report, the error the
// failing DoFn returned: the text after the last "DoFn[…] failed:" (or,
// without one, after the last "caused by:"), its first line. "" when the
// report holds none.
func FailureCause(report string) string {
	rest := ""
	if i := strings.LastIndex(report, "] failed:\n"); i >= 0 && strings.Contains(report[:i], "DoFn[") {
		rest = report[i+len("] failed:\n"):]
	} else if i := strings.LastIndex(report, "caused by:\n"); i >= 0 {
		rest = report[i+len("caused by:\n"):]
	}
	rest = strings.TrimSpace(firstLine(rest))
	rest = strings.TrimSuffix(rest, `"`)
	return rest
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
