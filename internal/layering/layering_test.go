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
