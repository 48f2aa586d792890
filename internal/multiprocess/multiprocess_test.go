package multiprocess_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/container/pool"

	"github.com/conceptfreq/conceptfreq/internal/synth"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/models/onnxbuild"
)

// bins are the commands and Beam's two servers, built once for the tests.
var bins struct {
	dir                      string
	count, eval, prism, boot string
	root                     string // the module root (inputs are given as absolute paths under it)
	buildErr                 error
}

func TestMain(m *testing.M) {
	code := func() int {
		dir, err := os.MkdirTemp("", "conceptfreq-multiprocess-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		bins.dir = dir
		bins.root, _ = filepath.Abs("../..")
		bins.count, bins.eval = filepath.Join(dir, "count"), filepath.Join(dir, "eval")
		bins.prism, bins.boot = filepath.Join(dir, "prism"), filepath.Join(dir, "boot")
		for _, b := range [][]string{
			{bins.count, "./pipelines/count"}, {bins.eval, "./pipelines/eval"},
			{bins.prism, "github.com/apache/beam/sdks/v2/go/cmd/prism"},
			{bins.boot, "github.com/apache/beam/sdks/v2/go/container"},
		} {
			cmd := exec.Command("go", "build", "-o", b[0], b[1])
			cmd.Dir = bins.root
			if out, err := cmd.CombinedOutput(); err != nil {
				bins.buildErr = fmt.Errorf("go build %s: %v\n%s", b[1], err, out)
				break
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

// cluster is a job server and a worker pool in processes of their own: the
// path a Dataflow job takes. The launcher submits the pipeline to prism's
// job service (--runner=universal), stages its --worker_binary as an
// artifact, and prism asks the pool (--environment_type=EXTERNAL) to start a
// worker: Beam's Go container entry point (boot), which fetches the
// pipeline options and the staged binary over provisioning and artifact
// retrieval and runs it as a separate worker process. Nothing reaches the
// worker but what the job serialised.
type cluster struct {
	jobPort, poolPort int
	semi              string // the boot's semi-persistent directory (staged artifacts)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitPort(t *testing.T, port int, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.Dial("tcp", fmt.Sprintf("localhost:%d", port))
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not listen on port %d within 30 s", what, port)
}

// bootCopies are the directories boot copies the worker binary into
// (/tmp/bin*, fixed in Beam's boot.go).
func bootCopies() []string {
	m, _ := filepath.Glob("/tmp/bin*")
	return m
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	if bins.buildErr != nil {
		t.Fatal(bins.buildErr)
	}
	c := &cluster{jobPort: freePort(t), poolPort: freePort(t), semi: t.TempDir()}
	before := bootCopies()
	// The job server.
	prism := exec.Command(bins.prism, fmt.Sprintf("--job_port=%d", c.jobPort), "--serve_http=false", "--log_level=warn")
	var prismLog bytes.Buffer
	prism.Stdout, prism.Stderr = &prismLog, &prismLog
	if err := prism.Start(); err != nil {
		t.Fatal(err)
	}
	// The worker pool: Beam's pool (what `boot --worker_pool` serves on its
	// fixed port 50000), here on a free port, starting boot through a
	// wrapper that gives it a semi-persistent directory of the test's and
	// runs it there (boot writes pipeline_options.json where it runs).
	wrapper := filepath.Join(t.TempDir(), "boot.sh")
	if err := os.WriteFile(wrapper, []byte(fmt.Sprintf("#!/bin/sh\ncd %s || exit 1\nexec %s --semi_persist_dir=%s \"$@\"\n", c.semi, bins.boot, c.semi)), 0o755); err != nil {
		t.Fatal(err)
	}
	// The pool starts its workers with the process's standard output:
	// theirs goes to a log of the test's (shown when it fails).
	workerLog, err := os.Create(filepath.Join(t.TempDir(), "workers.log"))
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = workerLog
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := pool.New(ctx, c.poolPort, wrapper)
	if err != nil {
		os.Stdout = stdout
		t.Fatal(err)
	}
	go srv.ServeAndWait()
	t.Cleanup(func() {
		srv.Stop(ctx)
		cancel()
		prism.Process.Kill()
		prism.Wait()
		// The pool stops a worker by killing its boot process; the worker
		// boot started lives on: stop every worker of this test's pool.
		killWorkers(t, c.semi)
		os.Stdout = stdout
		workerLog.Close()
		// The worker binaries boot copied for this test's workers.
		for _, d := range bootCopies() {
			if !slices.Contains(before, d) {
				if _, err := os.Stat(filepath.Join(d, "worker")); err == nil {
					os.RemoveAll(d)
				}
			}
		}
		if t.Failed() {
			logs, _ := os.ReadFile(workerLog.Name())
			t.Logf("prism's log:\n%s\nthe workers' log:\n%s", prismLog.String(), logs)
		}
	})
	waitPort(t, c.jobPort, "prism's job server")
	waitPort(t, c.poolPort, "the worker pool")
	return c
}

// killWorkers stops the worker processes started with semi as their
// semi-persistent directory, and waits until they are gone.
func killWorkers(t *testing.T, semi string) {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []int
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte("--semi_persist_dir="+semi+"\x00")) && !bytes.HasSuffix(b, []byte("--semi_persist_dir="+semi)) {
			continue
		}
		var pid int
		if _, err := fmt.Sscanf(p, "/proc/%d/cmdline", &pid); err == nil && pid != os.Getpid() {
			pids = append(pids, pid)
		}
	}
	for _, pid := range pids {
		if pr, err := os.FindProcess(pid); err == nil {
			pr.Kill()
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for time.Now().Before(deadline) {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// run runs a command from a directory of its own (the workers must not
// depend on the launcher's working directory), failing the test with its
// output when it fails.
func run(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// distributed are the flags that send a job to the cluster.
func (c *cluster) distributed(worker string) []string {
	return []string{"--runner=universal", fmt.Sprintf("--endpoint=localhost:%d", c.jobPort),
		"--environment_type=EXTERNAL", fmt.Sprintf("--environment_config=localhost:%d", c.poolPort),
		"--worker_binary=" + worker}
}

// sameParquet fails unless the two output directories hold the same
// Parquet files, byte for byte.
func sameParquet(t *testing.T, a, b string) {
	t.Helper()
	list := func(dir string) []string {
		var out []string
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".parquet") {
				rel, _ := filepath.Rel(dir, p)
				out = append(out, rel)
			}
			return nil
		})
		slices.Sort(out)
		return out
	}
	fa, fb := list(a), list(b)
	if len(fa) == 0 {
		t.Fatalf("no Parquet output in %s", a)
	}
	if !slices.Equal(fa, fb) {
		t.Fatalf("the runs wrote different files:\n%v\n%v", fa, fb)
	}
	for _, f := range fa {
		x, _ := os.ReadFile(filepath.Join(a, f))
		y, _ := os.ReadFile(filepath.Join(b, f))
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between the loopback and the multi-process run", f)
		}
	}
}

func abs(p string) string { return filepath.Join(bins.root, p) }

func needORT(t *testing.T) {
	t.Helper()
	if os.Getenv("CONCEPTFREQ_ORT_LIB") == "" {
		if os.Getenv("CONCEPTFREQ_REQUIRE_ORT") != "" {
			t.Fatal("CONCEPTFREQ_ORT_LIB is not set (make test sets it)")
		}
		t.Skip("no ONNX Runtime library (CONCEPTFREQ_ORT_LIB; make test sets it)")
	}
}

// The count job's outputs are the same whether its workers run in the
// launcher (prism over loopback) or in a separate worker process started
// by a worker pool from the staged binary: text only, with image tagging
// (ONNX Runtime in the worker), with similarity control (the test
// embeddings' searcher in the worker), and with --state (a second run
// reusing every partial), and the eval job's too, classification and
// retrieval.
func TestJobsInASeparateWorkerProcess(t *testing.T) {
	c := startCluster(t)
	retrievalSet := t.TempDir()
	if err := synth.ColourRetrieval(retrievalSet); err != nil {
		t.Fatal(err)
	}
	// Test embeddings for similarity control: the red and green of the
	// tagging demo's images.
	var tests []tables.TestEmbedding
	for _, n := range []string{"red", "green"} {
		v := onnxbuild.ColourVector(onnxbuild.PlantedColours[n])
		tests = append(tests, tables.TestEmbedding{Dataset: "colours", Key: n, Label: n, Vector: v[:]})
	}
	var eb bytes.Buffer
	if err := tables.WriteTestEmbeddings(&eb, tests, nil, nil); err != nil {
		t.Fatal(err)
	}
	testEmbeddings := filepath.Join(t.TempDir(), "test_embeddings.parquet")
	if err := os.WriteFile(testEmbeddings, eb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		bin  string
		args []string
		ort  bool
	}{
		{"count text", bins.count, []string{"--progress=false", "--input=" + abs("testdata/shards"), "--emit_samples"}, false},
		{"count image", bins.count, []string{"--progress=false", "--input=" + abs("testdata/tagging"), "--concepts=" + abs("testdata/tagging/vocabulary.txt"),
			"--model=" + abs("testdata/models/colour_tagger.onnx"), "--emit_scores", "--emit_samples"}, true},
		{"count similarity control", bins.count, []string{"--progress=false", "--input=" + abs("testdata/tagging"), "--concepts=" + abs("testdata/tagging/vocabulary.txt"),
			"--tagger=embedding", "--model=" + abs("testdata/models/colour_embedder.onnx"), "--concept_embeddings=" + abs("testdata/models/colour_concepts.parquet"),
			"--near_duplicates=" + testEmbeddings}, true},
		{"eval", bins.eval, []string{"--input=" + abs("testdata/eval"), "--classes=" + abs("testdata/eval/classes.txt"),
			"--image_model=" + abs("testdata/models/colour_embedder.onnx"), "--text_model=" + abs("testdata/models/colour_text.onnx"),
			"--bpe=" + abs("testdata/clip/bpe_simple_vocab_16e6.txt.gz"), "--model=colourCLIP", "--pretraining=colourcrawl", "--dataset=colours"}, true},
		{"eval retrieval", bins.eval, []string{"--task=retrieval", "--input=" + retrievalSet, "--min_images=2",
			"--image_model=" + abs("testdata/models/colour_embedder.onnx"), "--text_model=" + abs("testdata/models/colour_text.onnx"),
			"--bpe=" + abs("testdata/clip/bpe_simple_vocab_16e6.txt.gz"), "--model=colourCLIP", "--pretraining=colourcrawl", "--dataset=colourcaps"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ort {
				needORT(t)
			}
			out := t.TempDir()
			loop, multi := filepath.Join(out, "loopback"), filepath.Join(out, "multi")
			run(t, tc.bin, append([]string{"--output=" + loop}, tc.args...)...)
			run(t, tc.bin, append(append([]string{"--output=" + multi}, tc.args...), c.distributed(tc.bin)...)...)
			sameParquet(t, loop, multi)
		})
	}
	// With --state: a separate worker keeps the partials (a first run),
	// the launcher's own workers reuse them, and so does a separate worker.
	t.Run("count state", func(t *testing.T) {
		out, state := t.TempDir(), t.TempDir()
		args := []string{"--input=" + abs("testdata/shards"), "--state=" + state, "--progress=false"}
		var first string
		for i, step := range []struct {
			multi  bool
			reused string
		}{{true, `"shards_reused": 0`}, {false, `"shards_reused": 3`}, {true, `"shards_reused": 3`}} {
			dir := filepath.Join(out, fmt.Sprint("run", i))
			a := append([]string{"--output=" + dir}, args...)
			if step.multi {
				a = append(a, c.distributed(bins.count)...)
			}
			run(t, bins.count, a...)
			if first == "" {
				first = dir
			} else {
				sameParquet(t, first, dir)
			}
			st, err := os.ReadFile(filepath.Join(dir, "run_stats.json"))
			if err != nil || !strings.Contains(string(st), step.reused) {
				t.Errorf("run %d: run_stats.json lacks %s: %v\n%s", i, step.reused, err, st)
			}
		}
	})
}
