package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/conceptfreq/conceptfreq/io/beamfs"
	"github.com/conceptfreq/conceptfreq/transforms/count"
)

// backend is one storage system the job reads shards from and writes
// outputs to. The same conformance test runs over each.
type backend struct {
	name  string
	setup func(t *testing.T) (root string) // a URL-like directory prefix
}

var backends = []backend{
	{"local", func(t *testing.T) string { return t.TempDir() }},
	{"memfs", func(t *testing.T) string { return "memfs://" + strings.ReplaceAll(t.Name(), "/", "_") }},
	{"gcs", startFakeGCS},
}

// startFakeGCS runs fake-gcs-server in-process on a loopback port and points
// the Google Cloud Storage client (and so Beam's gs:// filesystem) at it.
func startFakeGCS(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	host := fmt.Sprintf("127.0.0.1:%d", port)
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme: "http", Host: "127.0.0.1", Port: uint16(port),
		PublicHost: host, // without it object reads 404
		Writer:     io.Discard,
	})
	if err != nil {
		t.Fatalf("fake-gcs-server: %v", err)
	}
	t.Cleanup(srv.Stop)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "conceptfreq-test"})
	t.Setenv("STORAGE_EMULATOR_HOST", host)
	return "gs://conceptfreq-test/" + strings.ReplaceAll(t.Name(), "/", "_")
}

func copyTo(t *testing.T, ctx context.Context, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := filesystem.New(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	w, err := fs.OpenWrite(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func readFrom(t *testing.T, ctx context.Context, path string) []byte {
	t.Helper()
	b, err := beamfs.ReadAll(ctx, path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return b
}

func TestSourcesConformance(t *testing.T) {
	ctx := context.Background()
	local, truth, v := plantedDataset(t, 3, 200, false)
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			root := be.setup(t)
			var inputs []string
			for i := 0; i < 3; i++ {
				name := fmt.Sprintf("%05d.tar", i)
				dst := root + "/in/" + name
				if be.name == "local" {
					dst = filepath.Join(root, "in", name)
				}
				copyTo(t, ctx, filepath.Join(local, name), dst)
			}
			copyTo(t, ctx, "../../testdata/captions/laion_test_1000.parquet", root+"/in/captions.parquet")
			inputs = append(inputs, root+"/in/*.tar", root+"/in/*.parquet")
			matched, err := beamfs.Expand(ctx, inputs)
			if err != nil {
				t.Fatal(err)
			}
			if len(matched) != 4 {
				t.Fatalf("%v matched %d files, want 4: %v", inputs, len(matched), matched)
			}
			out := root + "/out"
			if err := beamfs.CheckOutput(ctx, out, false); err != nil {
				t.Fatalf("fresh output: %v", err)
			}

			res := runJob(t, "", count.Request{Inputs: inputs, Output: out, Vocabulary: v})
			// --state on the same backend: partials written, then reused.
			state := root + "/state"
			s1 := runJob(t, "", count.Request{Inputs: inputs, Output: root + "/out-state-1", StateDir: state, Vocabulary: v})
			s2 := runJob(t, "", count.Request{Inputs: inputs, Output: root + "/out-state-2", StateDir: state, Vocabulary: v})
			reuse(t, s1, 0, 4)
			reuse(t, s2, 4, 0)
			sameOutputs(t, be.name+": --state, processed", s1, res)
			sameOutputs(t, be.name+": --state, reused", s2, res)
			rows, rejects, rs := res.rows, res.rejects, res.stats
			if rs.SamplesRead != truth.Samples+1000 || rs.ShardsRead != 4 {
				t.Errorf("got %d samples from %d shards, want %d from 4", rs.SamplesRead, rs.ShardsRead, truth.Samples+1000)
			}
			got := map[string]int64{}
			for _, r := range rows {
				got[r.Concept] = r.TextCount
			}
			// The LAION captions add their own matches: the planted shards
			// alone must not exceed, and the total must equal a local run.
			for c, want := range truth.TextCounts {
				if got[c] < want {
					t.Errorf("%s: got %d, want at least the planted %d", c, got[c], want)
				}
			}
			if len(rejects) != int(rs.SampleRejects) {
				t.Errorf("rejects: %d rows, run_stats %d", len(rejects), rs.SampleRejects)
			}
			if err := beamfs.CheckOutput(ctx, out, false); !errors.Is(err, beamfs.ErrNotEmpty) {
				t.Errorf("output written: CheckOutput gave %v, want ErrNotEmpty", err)
			}
			conformance.record(t, be.name, got)
		})
	}
	conformance.check(t)
}

// conformance collects the counts of each backend so they can be compared.
var conformance = &conformanceResults{byBackend: map[string]map[string]int64{}}

type conformanceResults struct{ byBackend map[string]map[string]int64 }

func (c *conformanceResults) record(t *testing.T, name string, counts map[string]int64) {
	c.byBackend[name] = counts
}

func (c *conformanceResults) check(t *testing.T) {
	ref := c.byBackend["local"]
	for name, got := range c.byBackend {
		if !reflect.DeepEqual(got, ref) {
			t.Errorf("backend %s: counts differ from the local run", name)
		}
	}
	if len(c.byBackend) != len(backends) {
		t.Errorf("only %d of %d backends ran", len(c.byBackend), len(backends))
	}
}
