package paper_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"

	"github.com/conceptfreq/conceptfreq/io/paper"
)

var ctx = context.Background()

func TestReadersKeepOrder(t *testing.T) {
	dir := t.TempDir()
	counts := filepath.Join(dir, "c.json")
	os.WriteFile(counts, []byte(`{"zebra": 3, "apple": 0, "Mid Name": 12.0}`), 0o644)
	c, err := paper.ReadCounts(ctx, counts)
	if err != nil || len(c.Names) != 3 || c.Names[0] != "zebra" || c.Values["Mid Name"] != 12 {
		t.Fatalf("got %+v %v", c, err)
	}
	zs := filepath.Join(dir, "z.json")
	os.WriteFile(zs, []byte(`{"backboneRN50_pretrainedcc12m": {"full": 1, "classwise": {"b": 2, "a": 1}},
		"backboneRN50_pretrainedcc3m": {"full": 3, "classwise": {"a": 5}}}`), 0o644)
	res, err := paper.ReadZeroShot(ctx, zs)
	if err != nil || len(res) != 2 || res[0].Classes[0] != "b" {
		t.Fatalf("got %+v %v", res, err)
	}
	m, ok := paper.FindModel(res, "RN50", "cc3m")
	if !ok || m.Classwise["a"] != 5 {
		t.Errorf("FindModel(RN50, cc3m) = %+v", m)
	}
	if _, ok := paper.FindModel(res, "RN101", "cc3m"); ok {
		t.Error("found a model that is not there")
	}
	if _, err := paper.ReadCounts(ctx, filepath.Join(dir, "missing.json")); !errors.Is(err, paper.ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
	os.WriteFile(counts, []byte(`{"a": -1}`), 0o644)
	if _, err := paper.ReadCounts(ctx, counts); err == nil || !strings.Contains(err.Error(), `count of "a" is -1`) {
		t.Errorf("negative count: got %v", err)
	}
}

func TestReadPerformanceCSV(t *testing.T) {
	p := filepath.Join(t.TempDir(), "perf.csv")
	os.WriteFile(p, []byte("model,pretraining,dataset,concept,metric\nm,p,d,dog,51.5\n"), 0o644)
	rows, err := paper.ReadPerformance(ctx, p)
	if err != nil || len(rows) != 1 || rows[0].Metric != 51.5 || rows[0].Prompt != "default" {
		t.Fatalf("got %+v %v", rows, err)
	}
	os.WriteFile(p, []byte("model,dataset,concept,metric\nm,d,dog,1\n"), 0o644)
	if _, err := paper.ReadPerformance(ctx, p); err == nil || !strings.Contains(err.Error(), "pretraining") {
		t.Errorf("missing pretraining column: got %v, want an error naming it", err)
	}
	os.WriteFile(p, []byte("model,pretraining,dataset,concept,metric\nm,p,d,dog,high\n"), 0o644)
	if _, err := paper.ReadPerformance(ctx, p); err == nil || !strings.Contains(err.Error(), "high") {
		t.Errorf("non-numeric metric: got %v, want an error quoting the value", err)
	}
}
