package runners_test

import (
	"strings"
	"testing"

	beamrunners "github.com/apache/beam/sdks/v2/go/pkg/beam/runners"

	"github.com/conceptfreq/conceptfreq/runners"
)

func TestRunnerChoice(t *testing.T) {
	old := *beamrunners.Runner
	defer func() { *beamrunners.Runner = old }()
	tests := []struct {
		flag, name string
		ok         bool
	}{
		{"", "prism", true},
		{"direct", "direct", true},
		{"dataflow", "dataflow", true},
		{"sparkle", "sparkle", false},
	}
	for _, tt := range tests {
		*beamrunners.Runner = tt.flag
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
