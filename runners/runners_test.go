package runners_test

import (
	"flag"
	"strings"
	"testing"

	beamrunners "github.com/apache/beam/sdks/v2/go/pkg/beam/runners"

	"github.com/conceptfreq/conceptfreq/runners"
)

func TestRunnerChoice(t *testing.T) {
	old := *beamrunners.Runner
	defer func() { *beamrunners.Runner = old }()
	oldProject := flag.Lookup("project").Value.String()
	defer flag.Set("project", oldProject)
	tests := []struct {
		flag, name, project string
		ok                  bool
	}{
		{"", "prism", "", true},
		{"direct", "direct", "", true},
		{"DirectRunner", "direct", "", true},
		{"PrismRunner", "prism", "", true},
		{"dataflow", "dataflow", "P", true},
		{"DataflowRunner", "dataflow", "P", true},
		{"sparkle", "sparkle", "", false},
		{"runner", "runner", "", false},
	}
	for _, tt := range tests {
		*beamrunners.Runner = tt.flag
		flag.Set("project", tt.project)
		if got := runners.Name(); got != tt.name {
			t.Errorf("--runner=%q: Name() = %q, want %q", tt.flag, got, tt.name)
		}
		err := runners.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("--runner=%q: Validate() = %v, want ok=%v", tt.flag, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "prism") {
			t.Errorf("error does not list the supported runners: %v", err)
		}
	}
}

// Dataflow without --project says so first, before any storage is touched.
func TestDataflowNeedsProject(t *testing.T) {
	old, oldProject := *beamrunners.Runner, flag.Lookup("project").Value.String()
	defer func() { *beamrunners.Runner = old; flag.Set("project", oldProject) }()
	*beamrunners.Runner = "dataflow"
	flag.Set("project", "")
	if err := runners.Validate(); err == nil || !strings.HasPrefix(err.Error(), "missing --project") {
		t.Errorf("--runner=dataflow without --project: %v; want an error starting with missing --project", err)
	}
}

func TestCheckGPU(t *testing.T) {
	old := *beamrunners.Runner
	defer func() { *beamrunners.Runner = old }()
	*beamrunners.Runner = "prism"
	if err := runners.CheckGPU("cuda"); err != nil {
		t.Errorf("prism: %v", err)
	}
	*beamrunners.Runner = "dataflow"
	if err := runners.CheckGPU("cpu"); err != nil {
		t.Errorf("dataflow cpu: %v", err)
	}
	err := runners.CheckGPU("cuda")
	if err == nil || !strings.Contains(err.Error(), "worker_accelerator") || !strings.Contains(err.Error(), "sdk_container_image") {
		t.Errorf("dataflow cuda without options: got %v", err)
	}
}
