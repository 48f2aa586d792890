// Package browser loads a page in headless Chromium (Debian's chromium
// package) for tests: it reports the page's console errors and the result
// of a probe script run after the load event.
//
// Tests skip when Chromium is not installed, unless
// $CONCEPTFREQ_REQUIRE_BROWSER is set (make test sets it after installing
// chromium), in which case they fail.
package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// RequireEnv turns a missing Chromium into a test failure.
const RequireEnv = "CONCEPTFREQ_REQUIRE_BROWSER"

// Path returns the Chromium binary, skipping (or failing) the test
// without one.
func Path(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(RequireEnv) != "" {
		t.Fatalf("Chromium not found but $%s is set (make test installs Debian's chromium)", RequireEnv)
	}
	t.Skip("headless Chromium not installed (apt-get install chromium; make test installs it)")
	return ""
}

// harness is injected at the top of <head>: it records errors from the
// first script on, then runs the probe after the load event and writes
// {"errors": [...], "probe": ...} into a <pre id="__probe">.
const harness = `<script>
window.__errors = [];
window.addEventListener('error', function (e) { window.__errors.push(String(e.message || e)); }, true);
(function () {
  var ce = console.error;
  console.error = function () { window.__errors.push(Array.prototype.join.call(arguments, ' ')); ce.apply(console, arguments); };
})();
window.addEventListener('load', function () {
  var probe;
  try { probe = (function () { %s })(); } catch (e) { window.__errors.push('probe: ' + e); }
  var pre = document.createElement('pre');
  pre.id = '__probe';
  pre.textContent = JSON.stringify({errors: window.__errors, probe: probe});
  document.body.appendChild(pre);
});
</script>`

// Result is what a page load reported.
type Result struct {
	Errors []string        `json:"errors"`
	Probe  json.RawMessage `json:"probe"`
}

var probeRE = regexp.MustCompile(`(?s)<pre id="__probe">(.*?)</pre>`)

// Load opens the HTML file at a width×height window, runs probe (the body
// of a JavaScript function returning a JSON-able value) after the load
// event, and returns the console errors and the probe's value.
func Load(t testing.TB, page string, width, height int, probe string) Result {
	t.Helper()
	bin := Path(t)
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	i := strings.Index(src, "<head>")
	if i < 0 {
		t.Fatalf("%s has no <head>", page)
	}
	i += len("<head>")
	src = src[:i] + fmt.Sprintf(harness, probe) + src[i:]
	probed := filepath.Join(t.TempDir(), "probed.html")
	if err := os.WriteFile(probed, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--user-data-dir="+t.TempDir(), fmt.Sprintf("--window-size=%d,%d", width, height),
		"--virtual-time-budget=10000", "--dump-dom", "file://"+probed)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	m := probeRE.FindSubmatch(out)
	if m == nil {
		t.Fatalf("the page did not finish loading (no probe result in the DOM; %d bytes)", len(out))
	}
	var r Result
	if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &r); err != nil {
		t.Fatalf("probe result: %v", err)
	}
	return r
}

// Screenshot writes a PNG of the page at width×height.
func Screenshot(ctx context.Context, bin, page, png string, width, height int) error {
	abs, err := filepath.Abs(page)
	if err != nil {
		return err
	}
	out, err := filepath.Abs(png)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		fmt.Sprintf("--window-size=%d,%d", width, height), "--virtual-time-budget=5000", "--screenshot="+out, "file://"+abs)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("chromium: %v\n%s", err, b)
	}
	return nil
}
