// Package runners is the one place that picks the Beam runner and registers
// the filesystems conceptfreq reads and writes (local paths, gs://, memfs://).
//
// The runner comes from Beam's own --runner flag: "prism" (the default, local
// and offline over loopback), "direct", or "dataflow" for scale. Dataflow
// takes Beam's usual flags (--project, --region, --staging_location,
// --worker_machine_type, --sdk_container_image, --worker_binary ...).
package runners

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	beamrunners "github.com/apache/beam/sdks/v2/go/pkg/beam/runners"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"

	// Filesystems for inputs and outputs.
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/gcs"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/memfs"
)

// Default is the runner used when --runner is not given.
const Default = "prism"

// Supported lists the runners conceptfreq documents and tests.
var Supported = []string{"prism", "direct", "dataflow", "universal"}

// Name is the runner selected by --runner, or Default, in the short form
// conceptfreq uses: Beam's own names (DataflowRunner, PrismRunner,
// DirectRunner, any case) are taken as Beam takes them.
func Name() string {
	r := strings.ToLower(strings.TrimSpace(*beamrunners.Runner))
	if r == "" {
		return Default
	}
	if short := strings.TrimSuffix(r, "runner"); short != "" {
		r = short
	}
	return r
}

// Validate checks the --runner value, and what the runner cannot start
// without, before any work starts.
func Validate() error {
	name := Name()
	if !slices.Contains(Supported, name) {
		return fmt.Errorf("unknown --runner=%q (want one of %s, or Beam's names: DataflowRunner, PrismRunner, DirectRunner)", *beamrunners.Runner, strings.Join(Supported, ", "))
	}
	if name == "dataflow" && strings.TrimSpace(flagValue("project")) == "" {
		return fmt.Errorf("missing --project: --runner=dataflow needs the Google Cloud project to run in (also --region and --staging_location=gs://BUCKET/staging)")
	}
	return nil
}

// CheckWorkerBinary checks that --worker_binary, when given, is a file
// here: Beam stages it from the launcher's disk.
func CheckWorkerBinary() error {
	path := flagValue(FlagWorkerBinary)
	if path == "" {
		return nil
	}
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return fmt.Errorf("--%s=%s: %w (make worker builds bin/count-worker)", FlagWorkerBinary, path, err)
	case fi.IsDir():
		return fmt.Errorf("--%s=%s is a directory, not the worker binary (make worker builds bin/count-worker)", FlagWorkerBinary, path)
	}
	return nil
}

// Run executes p on the selected runner and waits for it to finish.
func Run(ctx context.Context, p *beam.Pipeline) (beam.PipelineResult, error) {
	if err := Validate(); err != nil {
		return nil, err
	}
	*beamrunners.Runner = Name()
	if Name() == "prism" {
		// Beam's loopback submission leaves an empty placeholder for the
		// worker binary (beamloopbackworker-*) in the temporary directory
		// at every run: give it a directory of the run's, removed after.
		if tmp, err := os.MkdirTemp("", "conceptfreq-run-"); err == nil {
			old, had := os.LookupEnv("TMPDIR")
			os.Setenv("TMPDIR", tmp)
			defer func() {
				if had {
					os.Setenv("TMPDIR", old)
				} else {
					os.Unsetenv("TMPDIR")
				}
				os.RemoveAll(tmp)
			}()
		}
	}
	return beamx.RunWithMetrics(ctx, p)
}
