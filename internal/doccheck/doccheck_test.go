package doccheck

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/conceptfreq/conceptfreq/io/reject"
)

const root = "../.."

// docs reads README.md and docs/*.md, by path relative to the root.
func docs(t *testing.T) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	paths = append(paths, filepath.Join(root, "README.md"))
	out := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = string(b)
	}
	return out
}

var flagLine = regexp.MustCompile(`^  --([a-z0-9_]+)`)

// commandFlags builds every command and returns, per command, the flags
// its --help lists (its own, not Beam's runner flags).
func commandFlags(t *testing.T) map[string][]string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, "pipelines"))
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+string(os.PathSeparator), "./pipelines/...")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./pipelines/...: %v\n%s", err, out)
	}
	flags := map[string][]string{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		out, err := exec.Command(filepath.Join(bin, e.Name()), "--help").Output()
		if err != nil {
			t.Fatalf("%s --help: %v", e.Name(), err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if m := flagLine.FindStringSubmatch(line); m != nil {
				flags[e.Name()] = append(flags[e.Name()], m[1])
			}
		}
		if len(flags[e.Name()]) == 0 {
			t.Errorf("%s --help lists no flags", e.Name())
		}
	}
	return flags
}

// Every flag any command defines is documented in the README or docs/.
func TestEveryFlagIsDocumented(t *testing.T) {
	all := docs(t)
	var text strings.Builder
	for _, d := range all {
		text.WriteString(d)
	}
	for cmd, flags := range commandFlags(t) {
		for _, f := range flags {
			if !regexp.MustCompile(`--` + regexp.QuoteMeta(f) + `\b([^_a-z0-9]|$)`).MatchString(text.String()) {
				t.Errorf("%s --%s is not documented in README.md or docs/", cmd, f)
			}
		}
	}
}

// slug is GitHub's anchor of a heading.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// headings returns a document's headings and their anchors, outside code blocks.
func headings(doc string) (texts, anchors map[string]bool) {
	texts, anchors = map[string]bool{}, map[string]bool{}
	code := false
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "```") {
			code = !code
			continue
		}
		if code || !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.TrimSpace(strings.TrimLeft(line, "#"))
		texts[h] = true
		anchors[slug(h)] = true
	}
	return texts, anchors
}

var (
	link    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	seeRef  = regexp.MustCompile(`(?i)\bsee "([^"]+)"`)
	makeRef = regexp.MustCompile("`make ([a-z][a-z0-9-]*)")
)

// Every relative link resolves to a file and, with an anchor, to one of
// its headings; every `see "X"` names a heading of the same document.
func TestReferencesResolve(t *testing.T) {
	all := docs(t)
	for path, doc := range all {
		texts, _ := headings(doc)
		for _, m := range link.FindAllStringSubmatch(doc, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			targetPath := path
			if file != "" {
				targetPath = filepath.ToSlash(filepath.Join(filepath.Dir(path), file))
				if _, err := os.Stat(filepath.Join(root, targetPath)); err != nil {
					t.Errorf("%s: link %s: no file %s", path, target, targetPath)
					continue
				}
			}
			if anchor == "" {
				continue
			}
			tdoc, ok := all[targetPath]
			if !ok {
				t.Errorf("%s: link %s: anchor into a file that is not a document", path, target)
				continue
			}
			if _, anchors := headings(tdoc); !anchors[anchor] {
				t.Errorf("%s: link %s: %s has no heading #%s", path, target, targetPath, anchor)
			}
		}
		for _, m := range seeRef.FindAllStringSubmatch(doc, -1) {
			if !texts[m[1]] {
				t.Errorf("%s: see %q: no such heading", path, m[1])
			}
		}
	}
}

// Every `make X` the documents name is a target of the Makefile.
func TestMakeTargetsExist(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if i := strings.Index(line, ":"); i > 0 && !strings.HasPrefix(line, "\t") && !strings.ContainsAny(line[:i], " $=#.") {
			targets[line[:i]] = true
		}
	}
	named := 0
	for path, doc := range docs(t) {
		for _, m := range makeRef.FindAllStringSubmatch(doc, -1) {
			named++
			if !targets[m[1]] {
				t.Errorf("%s names `make %s`, which the Makefile does not define", path, m[1])
			}
		}
	}
	if named == 0 || !targets["run"] || !targets["test"] {
		t.Errorf("found %d make references and targets %v: the check reads nothing", named, targets)
	}
}

// docs/outputs.md lists every reject reason with its level, and no reason
// that the table does not have.
func TestRejectReasonsDocumented(t *testing.T) {
	doc := docs(t)["docs/outputs.md"]
	row := regexp.MustCompile("(?m)^\\| `([a-z0-9_]+)` \\| (sample|image|shard) \\|")
	listed := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(doc, -1) {
		listed[m[1]] = m[2]
	}
	var missing []string
	for _, r := range reject.Reasons {
		if listed[r.Name] != string(r.Level) {
			missing = append(missing, fmt.Sprintf("%s (%s)", r.Name, r.Level))
		}
		delete(listed, r.Name)
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("docs/outputs.md does not list these reasons with their level: %s", strings.Join(missing, ", "))
	}
	for name := range listed {
		t.Errorf("docs/outputs.md lists %s, which io/reject does not have", name)
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"count: `--output`":                     "count---output",
		"`--match=study`: the study's own rule": "--matchstudy-the-studys-own-rule",
		"Running at scale":                      "running-at-scale",
	} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}
