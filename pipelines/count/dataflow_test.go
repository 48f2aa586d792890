package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/conceptfreq/conceptfreq/runners"
)

// dryRun runs the count binary (built as a Dataflow launcher is, without
// cgo) with --runner=dataflow --dry_run and the given flags, offline and
// without credentials, and returns the printed job.
func dryRun(t *testing.T, bin string, args ...string) (job map[string]any, steps []runners.Step, raw string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--runner=dataflow", "--dry_run", "--project=P", "--region=us-central1",
		"--staging_location=gs://B/staging"}, args...)...)
	home := t.TempDir() // no application-default credentials, no gcloud config
	// GCE_METADATA_HOST pointing nowhere would make a cloud call hang: the
	// dry run must not make one.
	cmd.Env = append(os.Environ(), "HOME="+home, "CLOUDSDK_CONFIG="+home, "GCE_METADATA_HOST=127.0.0.1:1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dry run %v: %v\nstderr:\n%s", args, err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "nothing was submitted") {
		t.Errorf("dry run did not say it submitted nothing; stderr:\n%s", stderr.String())
	}
	var doc struct {
		Job   map[string]any `json:"job"`
		Steps []runners.Step `json:"steps"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("dry run printed no JSON job: %v\n%s", err, out)
	}
	return doc.Job, doc.Steps, string(out)
}

// buildLauncher builds the count binary without cgo, as Beam's Dataflow
// launcher cross-compiles it.
func buildLauncher(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "count")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
	return bin
}

func stepNames(steps []runners.Step) map[string]string {
	m := map[string]string{}
	for _, s := range steps {
		m[s.Name] = s.URN
	}
	return m
}

// The Dataflow job validates and prints offline: it has the shard-count
// step, the per-concept combine and the worker-side input matching, and
// its size does not grow with the number of shards (the patterns, not the
// files, are in the graph).
func TestDataflowDryRun(t *testing.T) {
	bin := buildLauncher(t)
	job, steps, raw := dryRun(t, bin, "--input=gs://B/laion/{00000..00009}.tar", "--output=gs://B/counts")
	if job["projectId"] != "P" || job["type"] != "JOB_TYPE_BATCH" {
		t.Errorf("job project/type: %v %v", job["projectId"], job["type"])
	}
	names := stepNames(steps)
	for name, urn := range map[string]string{
		"count.Captions/count.countShardFn":               "beam:transform:pardo:v1",
		"count.Captions/CombinePerKey":                    "beam:transform:combine_per_key:v1",
		"count.Captions/CombinePerKey/count.mergeTally":   "beam:transform:pardo:v1",
		"count.MatchInputs/count.matchPatternFn":          "beam:transform:pardo:v1",
		"count.MatchInputs/filter.Distinct/CombinePerKey": "beam:transform:combine_per_key:v1",
		"count.WriteOutputs/count.writeOutputsFn":         "beam:transform:pardo:v1",
	} {
		if names[name] != urn {
			t.Errorf("step %s: urn %q, want %q", name, names[name], urn)
		}
	}
	if strings.Contains(raw, "00005.tar") {
		t.Errorf("a shard name expanded into the job at launch")
	}
	if !strings.Contains(raw, "{00000..00009}") {
		t.Errorf("the job does not carry the --input pattern")
	}
	_, bigSteps, bigRaw := dryRun(t, bin, "--input=gs://B/laion/{00000..41407}.tar", "--output=gs://B/counts")
	if !slices.Equal(steps, bigSteps) {
		t.Errorf("41,408 shards changed the job's steps")
	}
	if d := len(bigRaw) - len(raw); d < -64 || d > 64 {
		t.Errorf("job size grew by %d bytes from 10 to 41,408 shards", d)
	}
	// Malformed patterns fail at launch, naming them.
	cmd := exec.Command(bin, "--runner=dataflow", "--dry_run", "--project=P", "--region=R", "--staging_location=gs://B/s",
		"--input=gs://B/laion/{00000..x}.tar", "--output=gs://B/counts")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "{00000..x}") {
		t.Errorf("a bad brace range: %v\n%s", err, out)
	}
}

// A tagging job with the GPU flags validates and prints offline too, and
// carries the accelerator and the worker container.
func TestDataflowDryRunTagging(t *testing.T) {
	bin := buildLauncher(t)
	image := "us-docker.pkg.dev/P/r/conceptfreq-worker:test"
	vocab := filepath.Join(t.TempDir(), "colours.txt")
	if err := os.WriteFile(vocab, []byte("red\ngreen\nblue\nmagenta\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	job, steps, raw := dryRun(t, bin, "--concepts="+vocab, "--input=gs://B/laion/{00000..00009}.tar", "--output=gs://B/counts",
		"--model="+modelsDir+"/colour_tagger.onnx", "--device=cuda", "--worker_machine_type=g2-standard-8",
		"--dataflow_service_options=worker_accelerator=type:nvidia-l4;count:1;install-nvidia-driver",
		"--sdk_container_image="+image, "--worker_binary="+bin)
	if job["type"] != "JOB_TYPE_BATCH" {
		t.Errorf("job type %v", job["type"])
	}
	for _, want := range []string{"nvidia-l4", image, "g2-standard-8"} {
		if !strings.Contains(raw, want) {
			t.Errorf("the tagging job does not carry %q", want)
		}
	}
	if names := stepNames(steps); names["count.Captions/count.countShardFn"] == "" || names["count.Captions/CombinePerKey"] == "" {
		t.Errorf("tagging job steps: %v", steps)
	}
	// Without the worker container, a GPU job fails at launch, saying what is missing.
	out, err := exec.Command(bin, "--runner=dataflow", "--dry_run", "--project=P", "--region=R", "--staging_location=gs://B/s",
		"--input=gs://B/x/{0..1}.tar", "--output=gs://B/counts", "--concepts="+vocab, "--model="+modelsDir+"/colour_tagger.onnx", "--device=cuda").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--sdk_container_image") {
		t.Errorf("GPU job without the worker container: %v\n%s", err, out)
	}
	// gs:// model, labels, embeddings and test embeddings are not read by a dry run (no
	// cloud service is touched: these buckets do not exist), and a worker
	// binary that is not there is an error naming it.
	for _, args := range [][]string{
		{"--model=gs://no-such-bucket-conceptfreq/ram.onnx", "--tagger_labels=gs://no-such-bucket-conceptfreq/tags.txt"},
		{"--tagger=embedding", "--model=gs://no-such-bucket-conceptfreq/clip.onnx", "--concept_embeddings=gs://no-such-bucket-conceptfreq/e.parquet"},
		{"--tagger=embedding", "--model=gs://no-such-bucket-conceptfreq/clip.onnx", "--concept_embeddings=gs://no-such-bucket-conceptfreq/e.parquet",
			"--near_duplicates=gs://no-such-bucket-conceptfreq/imagenet_test.parquet,gs://no-such-bucket-conceptfreq/coco_test.parquet"},
	} {
		_, steps, _ := dryRun(t, bin, append([]string{"--concepts=" + vocab, "--input=gs://B/laion/{0..1}.tar", "--output=gs://B/counts"}, args...)...)
		if len(steps) == 0 {
			t.Errorf("%v: no steps", args)
		}
		near := strings.HasPrefix(args[len(args)-1], "--near_duplicates=")
		if _, ok := stepNames(steps)["count.WriteOutputs/count.writeNearPartFn"]; ok != near {
			t.Errorf("%v: a near_duplicates/ part writer step: %v, want %v", args, ok, near)
		}
	}
	out, err = exec.Command(bin, "--runner=dataflow", "--dry_run", "--project=P", "--region=R", "--staging_location=gs://B/s",
		"--input=gs://B/x/{0..1}.tar", "--output=gs://B/counts", "--worker_binary=bin/no-such-worker").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--worker_binary=bin/no-such-worker") || !strings.Contains(string(out), "make worker") {
		t.Errorf("missing worker binary: %v\n%s", err, out)
	}
}

// A failing launch prints one line: the command's prefix once, the flag or
// file at fault, and no Go package names, "(<nil>)" or Go map syntax.
func TestErrorMessagesSpeakToUsers(t *testing.T) {
	bin := buildLauncher(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	os.WriteFile(file, []byte("x"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--input=" + dir + "/nothing/*.tar"}, "--input: "},
		{[]string{"--concepts=" + dir + "/no-vocabulary.txt"}, "--concepts: "},
		{[]string{"--output=" + file}, "is a file, not a directory"},
		{[]string{"--match=fuzzy"}, "--match: "},
		{[]string{"--runner=spark"}, "--runner="},
		{[]string{"--worker_binary=" + dir + "/no-worker"}, "--worker_binary="},
	} {
		out, err := exec.Command(bin, append(tc.args, "--output="+filepath.Join(t.TempDir(), "out"))...).CombinedOutput()
		if tc.args[0] == "--output="+file {
			out, err = exec.Command(bin, tc.args...).CombinedOutput()
		}
		msg := strings.TrimSpace(string(out))
		if err == nil || !strings.HasPrefix(msg, "count: ") || strings.Contains(msg, "\n") || !strings.Contains(msg, tc.want) {
			t.Errorf("%v: got %q (%v), want one line starting \"count: \" and naming %q", tc.args, msg, err, tc.want)
		}
		for _, bad := range []string{"count: count:", "files: ", "beamfs: ", "caption: ", "shard: ", "tables: ", "(<nil>)", "map["} {
			if strings.Contains(msg, bad) {
				t.Errorf("%v: %q contains %q", tc.args, msg, bad)
			}
		}
	}
}

// A job that fails while it runs (here: a part file cannot be written, the
// file size limit standing in for a full disk) says why in one line — the
// file and what was wrong — without --verbose, and none of the runner's
// trace lines; with --verbose the runner's log is there.
func TestFailedJobSaysWhy(t *testing.T) {
	bin := buildLauncher(t)
	out := filepath.Join(t.TempDir(), "out")
	run := func(verbose bool) (string, error) {
		// stderr through a pipe: the limit applies to the files the job writes.
		script := fmt.Sprintf("ulimit -f 4; exec %s --output=%s --overwrite --progress=false --emit_samples --verbose=%v 2>&1 >/dev/null", bin, out, verbose)
		cmd := exec.Command("sh", "-c", script)
		b, err := cmd.Output()
		return strings.TrimSpace(string(b)), err
	}
	msg, err := run(false)
	if err == nil {
		t.Fatalf("the job succeeded under a 4 KiB file size limit:\n%s", msg)
	}
	if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "count: job failed: ") || !strings.Contains(msg, "file too large") ||
		!strings.Contains(msg, "sample_concepts") {
		t.Errorf("without --verbose: got\n%s\nwant one line naming the file and the cause (file too large)", msg)
	}
	for _, bad := range []string{"level=ERROR", "DoFn[", "caused by", "beamfs: ", "tables: "} {
		if strings.Contains(msg, bad) {
			t.Errorf("without --verbose the message holds %q:\n%s", bad, msg)
		}
	}
	msg, _ = run(true)
	if !strings.Contains(msg, "level=ERROR") || !strings.Contains(msg, "file too large") {
		t.Errorf("with --verbose: the runner's log is missing:\n%.2000s", msg)
	}
}
