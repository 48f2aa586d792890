package scalinglaw

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conceptfreq/conceptfreq/internal/browser"
	"github.com/conceptfreq/conceptfreq/io/paper"
)

// The fit report in a real browser (headless Chromium): no console
// errors, the headline table within the first screen of a 1400×1000
// window, and the fits table sorts and filters.
func TestReportInBrowser(t *testing.T) {
	paperDir(t)
	browser.Path(t)
	cfg := defaultConfig(t)
	cfg.Bootstrap = 50
	res, err := fitAndWrite(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	probe := `
	  var h = document.getElementById('headline-table').getBoundingClientRect();
	  var fits = document.getElementById('fits');
	  var th = fits.tHead.rows[0].cells[7]; // ρ
	  th.click();
	  var vals = Array.prototype.map.call(fits.tBodies[0].rows, function (r) { return r.cells[7].textContent.trim(); })
	    .filter(function (v) { return v !== ''; }).map(parseFloat);
	  var sorted = vals.every(function (v, i) { return i === 0 || vals[i-1] <= v; });
	  var input = document.querySelector('input[data-filter="fits"]');
	  input.value = 'synthci30m';
	  input.dispatchEvent(new Event('input'));
	  var visible = Array.prototype.filter.call(fits.tBodies[0].rows, function (r) { return r.style.display !== 'none'; }).length;
	  return {text: document.body.innerText.slice(0, 2000), top: h.top, bottom: h.bottom, height: window.innerHeight, sorted: sorted, sortedValues: vals.length, visible: visible,
	    headlineRows: document.getElementById('headline-table').tBodies[0].rows.length,
	    scrollWidth: document.documentElement.scrollWidth, width: window.innerWidth,
	    toc: Array.prototype.map.call(document.querySelectorAll('nav.toc a'), function (a) { return !!document.getElementById(a.getAttribute('href').slice(1)); }),
	    images: document.images.length, broken: Array.prototype.filter.call(document.images, function (i) { return !i.naturalWidth; }).length};
	`
	r := browser.Load(t, filepath.Join(cfg.Output, ReportFile), 1400, 1000, probe)
	if len(r.Errors) != 0 {
		t.Errorf("console errors: %v", r.Errors)
	}
	var p struct {
		Text                                string
		Top, Bottom, Height                 float64
		Sorted                              bool
		SortedValues, Visible, HeadlineRows int
		Images, Broken                      int
		ScrollWidth, Width                  float64
		TOC                                 []bool
	}
	if err := json.Unmarshal(r.Probe, &p); err != nil {
		t.Fatalf("probe %s: %v", r.Probe, err)
	}
	if p.Top < 0 || p.Bottom > p.Height {
		t.Errorf("headline table at %v–%v px, want it within the first screen (%v px)", p.Top, p.Bottom, p.Height)
	}
	// Why rows were not joined is said at the top, in plain words.
	if !strings.Contains(p.Text, "12,000 imagenet-sketch text rows (cc12m, cc3m) not fitted: the study did not release those counts") {
		t.Errorf("the top of the report does not explain the unmatched rows:\n%s", p.Text)
	}
	if p.HeadlineRows != len(paper.Pairs) {
		t.Errorf("headline table has %d rows, want one per pair (%d)", p.HeadlineRows, len(paper.Pairs))
	}
	if !p.Sorted || p.SortedValues < 100 {
		t.Errorf("clicking ρ did not sort %d values ascending", p.SortedValues)
	}
	want := 0
	for _, f := range res.Fits {
		if strings.Contains(f.ID(), "synthci30m") {
			want++
		}
	}
	if p.Visible != want || want == 0 {
		t.Errorf("filter synthci30m: %d rows visible, want %d", p.Visible, want)
	}
	if p.ScrollWidth > p.Width {
		t.Errorf("the page scrolls horizontally at %v px: %v px wide", p.Width, p.ScrollWidth)
	}
	if len(p.TOC) < 5 {
		t.Errorf("table of contents has %d entries, want one per section", len(p.TOC))
	}
	for i, ok := range p.TOC {
		if !ok {
			t.Errorf("contents entry %d points at no heading", i)
		}
	}
	if p.Images < 10 || p.Broken != 0 {
		t.Errorf("%d images, %d broken", p.Images, p.Broken)
	}
}
