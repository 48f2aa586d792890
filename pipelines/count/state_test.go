package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/conceptfreq/conceptfreq/internal/shareddata"
	"github.com/conceptfreq/conceptfreq/io/beamfs"
	"github.com/conceptfreq/conceptfreq/io/shard"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/models/ort/orttest"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
	"github.com/conceptfreq/conceptfreq/transforms/count"
)

// sameOutputs checks that two runs wrote the same outputs: every concept
// row, the rejects as a multiset, and every figure of run_stats.json but
// the timings and the reuse split.
func sameOutputs(t *testing.T, what string, got, want *result) {
	t.Helper()
	if !reflect.DeepEqual(got.rows, want.rows) {
		t.Errorf("%s: concept_counts differ", what)
	}
	key := func(rs []tables.Reject) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Shard+"|"+r.Key+"|"+r.Reason+"|"+r.Detail)
		}
		sort.Strings(out)
		return out
	}
	if !reflect.DeepEqual(key(got.rejects), key(want.rejects)) {
		t.Errorf("%s: rejects differ: %d rows, want %d", what, len(got.rejects), len(want.rejects))
	}
	g, w := got.stats.Stats, want.stats.Stats
	g.ShardsReused, w.ShardsReused = 0, 0
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s: run statistics differ:\n got  %+v\n want %+v", what, g, w)
	}
	if got.stats.Config.Files != want.stats.Config.Files || got.stats.RowsInParts != want.stats.RowsInParts {
		t.Errorf("%s: files %d rows %d, want %d %d", what, got.stats.Config.Files, got.stats.RowsInParts, want.stats.Config.Files, want.stats.RowsInParts)
	}
}

func shardPaths(dir string, ids ...int) []string {
	var out []string
	for _, i := range ids {
		out = append(out, filepath.Join(dir, fmt.Sprintf("%05d.tar", i)))
	}
	return out
}

func reuse(t *testing.T, res *result, reused, processed int64) {
	t.Helper()
	if res.stats.ShardsReused != reused || res.stats.ShardsProcessed != processed {
		t.Errorf("shards reused %d processed %d, want %d and %d", res.stats.ShardsReused, res.stats.ShardsProcessed, reused, processed)
	}
}

// The incremental properties of --state: a grown input set processes only
// the new shards and equals a clean run; a changed shard is recounted; a
// shard that left the input set is not in the outputs; a changed
// vocabulary never reuses a partial.
func TestStateIncremental(t *testing.T) {
	dir, _, v := plantedDataset(t, 6, 300, false) // planted bad samples included: rejects are kept too
	state := t.TempDir()
	run := func(inputs []string, withState bool, vocab *caption.Vocabulary) *result {
		cfg := count.Request{Inputs: inputs, Vocabulary: vocab}
		if withState {
			cfg.StateDir = state
		}
		return runJob(t, "", cfg)
	}
	all := shardPaths(dir, 0, 1, 2, 3, 4, 5)

	first := run(all[:3], true, v)
	reuse(t, first, 0, 3)
	sameOutputs(t, "S1 with a fresh state", first, run(all[:3], false, v))

	grown := run(all, true, v)
	reuse(t, grown, 3, 3)
	sameOutputs(t, "S1 then S1 ∪ S2", grown, run(all, false, v))

	again := run(all, true, v)
	reuse(t, again, 6, 0)
	sameOutputs(t, "an unchanged re-run", again, grown)

	// A shard whose bytes changed is recounted: 00001.tar now holds 00004's samples.
	b, err := os.ReadFile(all[4])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(all[1], b, 0o644); err != nil {
		t.Fatal(err)
	}
	changed := run(all, true, v)
	reuse(t, changed, 5, 1)
	clean := run(all, false, v)
	sameOutputs(t, "a changed shard", changed, clean)
	if reflect.DeepEqual(changed.rows, grown.rows) {
		t.Fatal("rewriting a shard did not change the counts: the test proves nothing")
	}

	// A shard that left the input set is not in the outputs.
	fewer := run(all[:5], true, v)
	reuse(t, fewer, 5, 0)
	sameOutputs(t, "a shard left the input set", fewer, run(all[:5], false, v))
	for _, r := range fewer.rejects {
		if r.Shard == all[5] {
			t.Errorf("a reject of the dropped shard: %+v", r)
		}
	}

	// Another vocabulary (or rule, or threshold: all in the fingerprint) reuses nothing.
	lem, err := caption.English()
	if err != nil {
		t.Fatal(err)
	}
	names := v.Names()
	other, err := caption.ParseVocabulary(strings.NewReader(strings.Join(names[:len(names)-1], "\n")), "fewer", lem)
	if err != nil {
		t.Fatal(err)
	}
	reuse(t, run(all, true, other), 0, 6)
	phrase := count.Request{Inputs: all, Rule: caption.Phrase, StateDir: state, Vocabulary: v}
	reuse(t, runJob(t, "", phrase), 0, 6)
}

// A run killed with SIGKILL part way, then run again with the same state,
// gives exactly a clean run: kept partials are whole, none is counted twice.
func TestStateSurvivesSIGKILL(t *testing.T) {
	bin := buildLauncher(t)
	dir, truth, _ := plantedDataset(t, 60, 2000, false)
	state, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	vocab := filepath.Join(dir, "vocabulary.txt")
	args := []string{"--input=" + dir, "--concepts=" + vocab, "--state=" + state, "--progress=false", "--overwrite"}

	cmd := exec.Command(bin, append(args, "--output="+out)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	partials := func() int {
		m, _ := filepath.Glob(filepath.Join(state, "*", "*.partial"))
		return len(m)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for partials() < 5 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	kept := partials()
	if kept == 0 || kept >= 60 {
		t.Fatalf("%d of 60 partials when the run was killed: not part way", kept)
	}
	if _, err := os.Stat(filepath.Join(out, tables.RunStatsFile)); err == nil {
		t.Fatalf("the killed run wrote run_stats.json: it was not killed part way")
	}

	if b, err := exec.Command(bin, append(args, "--output="+out)...).CombinedOutput(); err != nil {
		t.Fatalf("the re-run: %v\n%s", err, b)
	}
	resumed := readOutputs(t, out)
	cleanOut := filepath.Join(t.TempDir(), "clean")
	if b, err := exec.Command(bin, "--input="+dir, "--concepts="+vocab, "--progress=false", "--output="+cleanOut).CombinedOutput(); err != nil {
		t.Fatalf("the clean run: %v\n%s", err, b)
	}
	clean := readOutputs(t, cleanOut)
	sameOutputs(t, "killed, then resumed", resumed, clean)
	if resumed.stats.SamplesRead != truth.Samples || resumed.stats.ShardsReused < int64(kept) || resumed.stats.ShardsReused+resumed.stats.ShardsProcessed != 60 {
		t.Errorf("resumed: %d samples (want %d), %d reused (kept %d), %d processed",
			resumed.stats.SamplesRead, truth.Samples, resumed.stats.ShardsReused, kept, resumed.stats.ShardsProcessed)
	}
}

// With image tagging, a kept partial holds all of its shard's rows (its
// queued images are tagged at the end of the shard): a state run, then a
// re-run reusing every shard, both equal a run without state, sample and
// score rows included.
func TestStateWithImageTagging(t *testing.T) {
	lib := orttest.Lib(t)
	dir := t.TempDir()
	tr := colourDataset(t, dir)
	state := t.TempDir()
	ic := baseImageConfig(lib)
	ic.EmitScores = true
	job := func(withState bool) *result {
		cfg := count.Request{Inputs: []string{dir + "/*.tar"}, Image: ic, EmitSamples: true, Vocabulary: colourVocab(t)}
		if withState {
			cfg.StateDir = state
		}
		return runJob(t, "", cfg)
	}
	clean := job(false)
	first, second := job(true), job(true)
	reuse(t, first, 0, 3)
	reuse(t, second, 3, 0)
	// Another threshold reuses nothing.
	ic.Threshold = 0.8
	reuse(t, job(true), 0, 3)
	ic.Threshold = 0.7
	for name, res := range map[string]*result{"state, processed": first, "state, reused": second} {
		sameOutputs(t, name, res, clean)
		checkColourTruth(t, name, res, tr)
		checkSampleRows(t, res.dir, tr)
		checkScoreRows(t, res.dir, tr)
	}
}

// The incremental properties on real inputs nobody here wrote: the
// webdataset project's own shards, img2dataset's LAION caption Parquet
// and a real shard cut in the middle (its damage and rejects are kept in
// the partial as well).
func TestStateOnRealShards(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for _, rel := range []string{"webdataset-shards/tendata.tar", "webdataset-shards/mpdata.tar", "webdataset-shards/sample.tgz",
		"webdataset-shards/testgz.tar", "laion-captions/test_1000.parquet"} {
		b, err := os.ReadFile(shareddata.Path(t, rel))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.Base(rel))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	b, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "tendata-cut.tar")
	if err := os.WriteFile(cut, b[:len(b)/2+123], 0o644); err != nil {
		t.Fatal(err)
	}
	paths = append(paths, cut)
	v, err := caption.DefaultVocabulary()
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	run := func(inputs []string, withState bool) *result {
		cfg := count.Request{Inputs: inputs, Vocabulary: v}
		if withState {
			cfg.StateDir = state
		}
		return runJob(t, "", cfg)
	}
	first := run(paths[:3], true)
	reuse(t, first, 0, 3)
	grown := run(paths, true)
	reuse(t, grown, 3, 3)
	clean := run(paths, false)
	sameOutputs(t, "real shards: S1 then S1 ∪ S2", grown, clean)
	if clean.stats.ShardsFailed != 1 || clean.stats.SamplesRead < 1000 {
		t.Errorf("the real inputs did not exercise a damaged shard and the Parquet file: %+v", clean.stats.Stats)
	}
	fewer := run(paths[1:], true)
	reuse(t, fewer, 5, 0)
	sameOutputs(t, "real shards: one left the input set", fewer, run(paths[1:], false))
}

// A damaged partial is a cache miss, never a wrong count: truncated,
// random bytes, one byte flipped, another shard's partial under this
// name, an older format version and a directory where the file should be
// are each recounted, listed in run_stats.json, and the job succeeds with
// the outputs of a clean run.
func TestDamagedPartialsAreRecounted(t *testing.T) {
	dir, _, v := plantedDataset(t, 7, 200, false)
	all := shardPaths(dir, 0, 1, 2, 3, 4, 5, 6)
	state := t.TempDir()
	cfg := count.Request{Inputs: all, StateDir: state, Vocabulary: v}
	clean := runJob(t, "", count.Request{Inputs: all, Vocabulary: v})
	first := runJob(t, "", cfg)
	reuse(t, first, 0, 7)
	parts, err := filepath.Glob(filepath.Join(state, "*", "*.partial"))
	if err != nil || len(parts) != 7 {
		t.Fatalf("%d partials (%v), want 7", len(parts), err)
	}
	sort.Strings(parts)
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := map[string][]byte{}
	for _, p := range parts {
		good[p] = read(p)
	}
	// "version 1": a file without the version-2 magic line, as version 1's
	// bare gobs are.
	damage := map[string]func(p string) []byte{
		"truncated":     func(p string) []byte { return good[p][:len(good[p])/2] },
		"random bytes":  func(p string) []byte { return []byte("\x13\x07 not a partial at all \x00\xff") },
		"one byte":      func(p string) []byte { b := append([]byte(nil), good[p]...); b[len(b)-3] ^= 1; return b },
		"another shard": func(p string) []byte { return good[parts[(indexOf(parts, p)+1)%len(parts)]] },
		"version 1":     func(p string) []byte { return good[p][len("conceptfreq partial v2\n"):] },
	}
	names := make([]string, 0, len(damage))
	for n := range damage {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		if err := os.WriteFile(parts[i], damage[n](parts[i]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A directory where the partial should be: unreadable as a file.
	os.Remove(parts[5])
	if err := os.Mkdir(parts[5], 0o755); err != nil {
		t.Fatal(err)
	}
	got := runJob(t, "", cfg)
	sameOutputsExceptState(t, "damaged partials", got, clean)
	if got.stats.PartialsDamaged != 6 || len(got.stats.DamagedPartials) != 6 || got.stats.ShardsReused != 1 {
		t.Errorf("partials_damaged %d (%d listed), reused %d; want 6 damaged, 6 listed, 1 reused (the untouched one)",
			got.stats.PartialsDamaged, len(got.stats.DamagedPartials), got.stats.ShardsReused)
	}
	for _, d := range got.stats.DamagedPartials {
		if !strings.Contains(d, ".partial: ") {
			t.Errorf("damaged partial listed as %q: want its path and what was wrong", d)
		}
	}
	if got.stats.PartialsNotStored != 1 { // the directory cannot be replaced by a file
		t.Errorf("partials_not_stored %d, want 1", got.stats.PartialsNotStored)
	}
	// The recounted partials were rewritten whole: the next run reuses them.
	again := runJob(t, "", cfg)
	sameOutputsExceptState(t, "after the recount", again, clean)
	if again.stats.PartialsDamaged != 1 || again.stats.ShardsReused != 6 {
		t.Errorf("next run: %d damaged, %d reused; want 1 (the directory) and 6", again.stats.PartialsDamaged, again.stats.ShardsReused)
	}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// sameOutputsExceptState is sameOutputs without the state's own figures.
func sameOutputsExceptState(t *testing.T, what string, got, want *result) {
	t.Helper()
	g := *got
	g.stats = got.stats
	gs := *g.stats
	gs.PartialsDamaged, gs.DamagedPartials, gs.PartialsNotStored = 0, nil, 0
	g.stats = &gs
	sameOutputs(t, what, &g, want)
}

// Two runs sharing one --state directory at once (a scheduled recount
// overlapping a late one): both succeed, both write what a run without
// state writes, and a third run reuses every shard. Five times, each with
// a fresh state directory, so that the runs race on the same partials.
func TestConcurrentRunsShareState(t *testing.T) {
	bin := buildLauncher(t)
	dir, _, _ := plantedDataset(t, 30, 300, false)
	vocab := filepath.Join(dir, "vocabulary.txt")
	base := []string{"--input=" + dir, "--concepts=" + vocab, "--progress=false"}
	cleanOut := filepath.Join(t.TempDir(), "clean")
	if b, err := exec.Command(bin, append(base, "--output="+cleanOut)...).CombinedOutput(); err != nil {
		t.Fatalf("the run without state: %v\n%s", err, b)
	}
	clean := readOutputs(t, cleanOut)
	for round := 0; round < 5; round++ {
		state := t.TempDir()
		outs := []string{filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")}
		errs := make([]error, 2)
		logs := make([][]byte, 2)
		var wg sync.WaitGroup
		for i, out := range outs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				logs[i], errs[i] = exec.Command(bin, append(base, "--state="+state, "--output="+out)...).CombinedOutput()
			}()
		}
		wg.Wait()
		for i, out := range outs {
			if errs[i] != nil {
				t.Fatalf("round %d, run %d: %v\n%s", round, i, errs[i], logs[i])
			}
			got := readOutputs(t, out)
			sameOutputs(t, fmt.Sprintf("round %d, concurrent run %d", round, i), got, clean)
			if got.stats.PartialsDamaged != 0 {
				t.Errorf("round %d, run %d: %d partials damaged by the other run", round, i, got.stats.PartialsDamaged)
			}
		}
		third := filepath.Join(t.TempDir(), "c")
		if b, err := exec.Command(bin, append(base, "--state="+state, "--output="+third)...).CombinedOutput(); err != nil {
			t.Fatalf("round %d, the third run: %v\n%s", round, err, b)
		}
		if got := readOutputs(t, third); got.stats.ShardsReused != 30 {
			t.Errorf("round %d: the third run reused %d of 30 shards", round, got.stats.ShardsReused)
		}
	}
}

// A vocabulary naming a concept twice ("cat", "dog", "cat<TAB>feline") on
// the bundled real shards: one cat row, whose count is the samples
// mentioning cat or feline (a brute force over the captions says how
// many), and a --state rerun gives exactly the fresh run's outputs.
func TestRepeatedConceptNamesOneRow(t *testing.T) {
	lem, err := caption.English()
	if err != nil {
		t.Fatal(err)
	}
	v, err := caption.ParseVocabulary(strings.NewReader("cat\ndog\ncat\tfeline\n"), "twice.txt", lem)
	if err != nil {
		t.Fatal(err)
	}
	var inputs []string
	for _, p := range DefaultInputs() {
		m, err := filepath.Glob(p)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, m...)
	}
	if len(inputs) == 0 {
		t.Fatalf("no bundled shards match %v", DefaultInputs())
	}
	want := map[string]int64{}
	for _, in := range inputs {
		err := shard.ForEach(context.Background(), beamfs.Open, in, shard.Options{TextOnly: true}, func(s *shard.Sample) error {
			lemmas := lem.Lemmas(s.Caption)
			if slices.Contains(lemmas, "cat") || slices.Contains(lemmas, "feline") {
				want["cat"]++
			}
			if slices.Contains(lemmas, "dog") {
				want["dog"]++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if want["cat"] == 0 || want["dog"] == 0 {
		t.Fatalf("the bundled shards mention cat %d and dog %d times; the test needs both", want["cat"], want["dog"])
	}
	state := t.TempDir()
	fresh := runJob(t, "", count.Request{Inputs: inputs, Vocabulary: v})
	first := runJob(t, "", count.Request{Inputs: inputs, Vocabulary: v, StateDir: state})
	again := runJob(t, "", count.Request{Inputs: inputs, Vocabulary: v, StateDir: state})
	reuse(t, again, int64(len(inputs)), 0)
	for name, res := range map[string]*result{"fresh": fresh, "first with --state": first, "rerun from --state": again} {
		if len(res.rows) != 2 {
			t.Errorf("%s: %d rows, want one per concept name (2): %+v", name, len(res.rows), res.rows)
		}
		for _, r := range res.rows {
			if r.TextCount != want[r.Concept] {
				t.Errorf("%s: %s text_count %d, want %d", name, r.Concept, r.TextCount, want[r.Concept])
			}
		}
	}
	sameOutputs(t, "rerun from --state vs fresh", again, fresh)
}
