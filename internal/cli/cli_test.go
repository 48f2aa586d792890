package cli

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

func testFlags() *flag.FlagSet {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.String("tagger_labels", "", "labels file")
	fs.String("input", "in/*.tar", "shards")
	fs.Bool("overwrite", false, "replace outputs")
	fs.String("runner", "", "Pipeline runner.")
	fs.String("project", "", "GCP project (Beam's)")
	fs.String("region", "", "GCP region (Beam's)")
	return fs
}

func TestExplainSuggestsTheClosestFlag(t *testing.T) {
	for _, tc := range []struct{ arg, want string }{
		{"--tagger_label=x", "unknown flag --tagger_label; did you mean --tagger_labels?"},
		{"--inptu=x", "did you mean --input?"},
		{"--overwirte", "did you mean --overwrite?"},
		{"--completely_different=1", "unknown flag --completely_different (--help lists the flags)"},
	} {
		fs := testFlags()
		err := fs.Parse([]string{tc.arg})
		if err == nil {
			t.Fatalf("%s parsed", tc.arg)
		}
		if got := Explain(err, fs); !strings.Contains(got, tc.want) || strings.Count(got, "\n") > 0 {
			t.Errorf("%s: got %q, want one line containing %q", tc.arg, got, tc.want)
		}
	}
	fs := testFlags()
	err := fs.Parse([]string{"--overwrite=maybe"})
	if got := Explain(err, fs); !strings.Contains(got, "invalid boolean value") || !strings.Contains(got, "--help") {
		t.Errorf("bad value: got %q", got)
	}
	if errors.Is(err, flag.ErrHelp) {
		t.Error("a bad value is not a help request")
	}
}

func TestUsageGroupsOwnFlagsFirst(t *testing.T) {
	fs := testFlags()
	c := &Command{Name: "t", Summary: "test", Usage: []string{"t --input=x"}, Runner: true,
		Groups:   []Group{{Title: "Input", Flags: []string{"input"}}, {Title: "Runner", Flags: []string{"runner", "overwrite", "tagger_labels"}}},
		Defaults: map[string]string{"runner": "prism"}}
	var b strings.Builder
	c.PrintUsage(&b, fs, false)
	out := b.String()
	for _, want := range []string{"Input:\n  --input=string\n      shards (default in/*.tar)", "--runner=string\n      Pipeline runner. (default prism)",
		"Beam's 2 runner flags", "--help_beam"} {
		if !strings.Contains(out, want) {
			t.Errorf("usage lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "--project=") || strings.Index(out, "Input:") > strings.Index(out, "Runner:") {
		t.Errorf("Beam's flags listed, or groups out of order:\n%s", out)
	}
	b.Reset()
	c.PrintUsage(&b, fs, true)
	if !strings.Contains(b.String(), "--project=string") || !strings.Contains(b.String(), "--region=string") {
		t.Errorf("--help_beam does not list Beam's flags:\n%s", b.String())
	}
}

func TestVersions(t *testing.T) {
	rows := Versions("example.com/not/linked")
	if rows[0][0] != "conceptfreq" || !strings.HasPrefix(rows[1][1], "go1.") || rows[2][1] != "not linked" {
		t.Errorf("got %v", rows)
	}
}

func TestFirstLine(t *testing.T) {
	err := errors.New("job failed: panic: bad thing\ngoroutine 1 [running]:\nmain.main()")
	if got := FirstLine(err); got != "job failed: panic: bad thing (--verbose for the full trace)" {
		t.Errorf("got %q", got)
	}
	if got := FirstLine(errors.New("one line")); got != "one line" {
		t.Errorf("got %q", got)
	}
}

func TestMessage(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"count: model x.onnx: beamfs: open x.onnx: no such file", "model x.onnx: open x.onnx: no such file"},
		{"--input: files: pattern a*.tar matched no files", "--input: pattern a*.tar matched no files"},
		{"caption count: 5 (<nil>)", "caption count: 5"},
		{"scalinglaw: counts a.parquet: tables: not a concept_counts.parquet", "counts a.parquet: not a concept_counts.parquet"},
	} {
		if got := Message(errors.New(tc.in)); got != tc.want {
			t.Errorf("Message(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
