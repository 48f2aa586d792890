package layering_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/conceptfreq/conceptfreq/"

func TestImportsPointDown(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := map[string][]string{
		"io/":         {"transforms/", "pipelines/"},
		"models/":     {"transforms/", "pipelines/"},
		"runners":     {"transforms/", "pipelines/"},
		"transforms/": {"pipelines/"},
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		for layer, bad := range forbidden {
			if !strings.HasPrefix(pkg, layer) {
				continue
			}
			checked++
			for _, imp := range fields[1:] {
				for _, b := range bad {
					if strings.HasPrefix(imp, module+b) {
						t.Errorf("%s imports %s: %s may not depend on %s", pkg, imp, layer, b)
					}
				}
			}
		}
	}
	if checked < 10 {
		t.Errorf("checked only %d packages; is the module path right?", checked)
	}
}

// The plain-Go cores and readers build without Beam: the formats under
// io/ (but for io/beamfs, the adapter to Beam's filesystems, and io/paper,
// which reads through it), the count job's core (transforms/concept), the
// caption matcher, image tagging, the fit's statistics and models/.
func TestPureCoresDoNotImportBeam(t *testing.T) {
	pure := []string{"io/wds", "io/captionpq", "io/tables", "io/reject", "io/shard", "io/paths",
		"transforms/concept", "transforms/caption", "transforms/imagetag", "transforms/retrieval", "transforms/scalinglaw/fitstats",
		"models/ort", "models/preprocess", "models/tagging", "models/clip", "models/onnxbuild"}
	for _, p := range pure {
		out, err := exec.Command("go", "list", "-deps", module+p).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", p, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 2 {
			t.Errorf("%s: %d dependencies listed; is the path right?", p, len(deps))
		}
		for _, d := range deps {
			if strings.HasPrefix(d, "github.com/apache/beam/") {
				t.Errorf("%s depends on Beam (%s): the plain-Go layer must build without it", p, d)
				break
			}
		}
	}
}
