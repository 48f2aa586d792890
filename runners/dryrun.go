package runners

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/graphx"
	beamlog "github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
)

// FlagDryRun is the Dataflow runner's own flag: build and translate the
// job, print it, submit nothing.
const FlagDryRun = "dry_run"

// DryRun reports whether --runner=dataflow --dry_run was asked for: the
// job is validated and printed offline, without credentials, and no cloud
// service is touched (no output claim, no probe, no input listing).
func DryRun() bool {
	return Name() == "dataflow" && flagValue(FlagDryRun) == "true"
}

// DryRunJob holds what a Dataflow dry run printed: the Dataflow API's Job.
type DryRunJob struct {
	mu  sync.Mutex
	job json.RawMessage
}

// CaptureDryRunJob makes the Dataflow runner's dry run hand its job (the
// Dataflow API's Job, which Beam logs as one JSON info message) to the
// returned DryRunJob. Every other message (the pipeline proto, the
// runner's warnings that it cannot reach Cloud Storage without
// credentials) goes to the usual logger only with verbose: a dry run's
// errors are returned, not logged.
//
// It also keeps the dry run off the network: Beam's Dataflow runner checks
// the staging bucket's soft-delete policy with the ambient credentials
// before it translates the job (and retries without end where the metadata
// server is unreachable), so the credentials are pointed at a file that
// does not exist, and that check fails at once instead.
func CaptureDryRunJob(verbose bool) *DryRunJob {
	os.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(os.TempDir(), "conceptfreq-dry-run-has-no-credentials.json"))
	j := &DryRunJob{}
	beamlog.SetLogger(&dryRunLogger{job: j, verbose: verbose})
	return j
}

type dryRunLogger struct {
	job     *DryRunJob
	next    beamlog.Structural
	verbose bool
}

func (l *dryRunLogger) Log(ctx context.Context, sev beamlog.Severity, depth int, msg string) {
	if sev == beamlog.SevInfo && strings.HasPrefix(msg, "{") && json.Valid([]byte(msg)) {
		l.job.mu.Lock()
		l.job.job = json.RawMessage(msg)
		l.job.mu.Unlock()
		return
	}
	if l.verbose {
		l.next.Log(ctx, sev, depth+1, msg)
	}
}

// Step is one transform of a pipeline as a runner receives it.
type Step struct {
	Name string `json:"name"` // Beam's unique name, scopes joined by "/"
	URN  string `json:"urn"`  // what kind of transform (ParDo, GroupByKey, combine ...)
}

// Steps lists the transforms of p as the portable pipeline a runner is
// given (Dataflow's runner v2 takes this, not the job's step list),
// sorted by name.
func Steps(p *beam.Pipeline) ([]Step, error) {
	edges, _, err := p.Build()
	if err != nil {
		return nil, err
	}
	model, err := graphx.Marshal(edges, &graphx.Options{Environment: &pipepb.Environment{Urn: "beam:env:docker:v1"}})
	if err != nil {
		return nil, err
	}
	var out []Step
	for _, t := range model.GetComponents().GetTransforms() {
		out = append(out, Step{Name: t.GetUniqueName(), URN: t.GetSpec().GetUrn()})
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Name < out[k].Name })
	return out, nil
}

// Write prints the dry run as one JSON object: "job", the Dataflow job that
// would be submitted, and "steps", the transforms of p it carries.
func (j *DryRunJob) Write(w io.Writer, p *beam.Pipeline) error {
	j.mu.Lock()
	job := j.job
	j.mu.Unlock()
	if job == nil {
		return fmt.Errorf("runners: the Dataflow runner printed no job (is --runner=dataflow --dry_run set?)")
	}
	steps, err := Steps(p)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Job   json.RawMessage `json:"job"`
		Steps []Step          `json:"steps"`
	}{job, steps})
}
