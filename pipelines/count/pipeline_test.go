package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/conceptfreq/conceptfreq/io/wds"
	"github.com/conceptfreq/conceptfreq/transforms/concept"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/conceptfreq/conceptfreq/internal/shareddata"
	"github.com/conceptfreq/conceptfreq/internal/synth"
	"github.com/conceptfreq/conceptfreq/io/beamfs"
	"github.com/conceptfreq/conceptfreq/io/paper"
	"github.com/conceptfreq/conceptfreq/io/paths"
	"github.com/conceptfreq/conceptfreq/io/shard"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
	"github.com/conceptfreq/conceptfreq/transforms/count"
	"github.com/conceptfreq/conceptfreq/transforms/scalinglaw"
	"github.com/conceptfreq/conceptfreq/transforms/scalinglaw/fitstats"
)

func TestMain(m *testing.M) {
	ptest.Main(m)
}

type result struct {
	counts    map[string]int64
	byConcept map[string]tables.ConceptCount
	order     []string
	rows      []tables.ConceptCount
	rejects   []tables.Reject
	stats     *count.RunStats
	dir       string
}

// runJob resolves cfg (default vocabulary and rules where unset; output
// into a temporary directory), builds and runs the count job over the files
// its inputs match on the test's runner (prism unless --runner says
// otherwise), or on runner when it is not empty.
func runJob(t *testing.T, runner string, cfg count.Request) *result {
	t.Helper()
	ctx := context.Background()
	if cfg.Output == "" {
		cfg.Output = t.TempDir()
	}
	if cfg.Rule == "" {
		cfg.Rule = caption.AllWords
	}
	if cfg.POS == "" {
		cfg.POS = caption.POSNone
	}
	if cfg.Vocabulary == nil {
		v, err := caption.DefaultVocabulary()
		if err != nil {
			t.Fatal(err)
		}
		cfg.Vocabulary = v
	}
	resolved, err := cfg.Resolve(ctx, beamfs.ReadAll)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StateDir != "" { // WithState picks the fingerprint folder in it
		if resolved, err = resolved.WithState(ctx, cfg.StateDir); err != nil {
			t.Fatal(err)
		}
	}
	p, s := beam.NewPipelineWithRoot()
	Build(s, resolved, time.Now())
	if runner == "" {
		err = ptest.Run(p)
	} else {
		_, err = beam.Run(ctx, runner, p)
	}
	if err != nil {
		t.Fatalf("pipeline failed: %v", err)
	}
	return readOutputs(t, cfg.Output)
}

func readOutputs(t *testing.T, dir string) *result {
	t.Helper()
	res := &result{counts: map[string]int64{}, byConcept: map[string]tables.ConceptCount{}, dir: dir}
	ctx := context.Background()
	rows, err := tables.ReadConceptCounts(bytes.NewReader(readFrom(t, ctx, paths.Join(dir, tables.ConceptCountsFile))), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.rows = rows
	for _, r := range rows {
		res.counts[r.Concept] = r.TextCount
		res.order = append(res.order, r.Concept)
		res.byConcept[r.Concept] = r
	}
	for _, part := range readParts(t, dir, tables.RejectsDir) {
		rej, err := tables.ReadRejects(bytes.NewReader(part.data), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rej {
			if part.name == tables.SchemaPart || tables.PartName(r.Shard) != part.name {
				t.Errorf("rejects/%s holds a row of shard %s", part.name, r.Shard)
			}
		}
		res.rejects = append(res.rejects, rej...)
	}
	if res.stats, err = count.ReadRunStats(context.Background(), dir, beamfs.ReadAll); err != nil {
		t.Fatal(err)
	}
	checkAccounting(t, res)
	if res.stats.Config.Image == nil {
		for _, r := range rows {
			if r.ImageCount != nil || r.MatchedCount != nil || r.TextOnlyCount != nil || r.ImageOnlyCount != nil {
				t.Errorf("concept %q: image-side counts set without image tagging", r.Concept)
			}
		}
	}
	return res
}

type part struct {
	name string
	data []byte
}

// readParts reads the parts of a row output directory (local or gs://):
// the schema part always, one part per shard with rows.
func readParts(t *testing.T, dir, name string) []part {
	t.Helper()
	ctx := context.Background()
	list, err := beamfs.List(ctx, paths.Join(paths.Join(dir, name), "*.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	var out []part
	schema := false
	for _, f := range list {
		base := f[strings.LastIndexAny(f, "/\\")+1:]
		schema = schema || base == tables.SchemaPart
		out = append(out, part{name: base, data: readFrom(t, ctx, f)})
	}
	if !schema {
		t.Errorf("%s/: no %s (parts: %d)", name, tables.SchemaPart, len(list))
	}
	return out
}

// checkAccounting: every sample read is counted or listed as a reject, and
// the reject table agrees with run_stats.json.
func checkAccounting(t *testing.T, res *result) {
	t.Helper()
	st := res.stats
	byReason := map[string]int64{}
	var sampleRejects, imageRejects int64
	for _, r := range res.rejects {
		byReason[r.Reason]++
		if concept.IsImageReason(r.Reason) {
			imageRejects++
		} else if !shard.IsShardReason(r.Reason) {
			sampleRejects++
			if r.Key == "" {
				t.Errorf("sample reject without key: %+v", r)
			}
		} else if r.Key != "" {
			t.Errorf("shard reject with a key: %+v", r)
		}
		if r.Shard == "" || r.Detail == "" {
			t.Errorf("reject without shard or detail: %+v", r)
		}
	}
	if st.SamplesRead != st.SamplesWithCaption+sampleRejects {
		t.Errorf("samples_read %d != samples_with_caption %d + sample rejects %d", st.SamplesRead, st.SamplesWithCaption, sampleRejects)
	}
	if st.Config.Image != nil && st.SamplesRead != st.ImagesTagged+imageRejects {
		t.Errorf("samples_read %d != images_tagged %d + image rejects %d", st.SamplesRead, st.ImagesTagged, imageRejects)
	}
	if st.ImageRejects != imageRejects {
		t.Errorf("run_stats image_rejects %d, rejects/ has %d", st.ImageRejects, imageRejects)
	}
	if st.SampleRejects != sampleRejects {
		t.Errorf("run_stats sample_rejects %d, rejects/ has %d", st.SampleRejects, sampleRejects)
	}
	for reason, n := range byReason {
		if st.Rejects[reason] != n {
			t.Errorf("reason %s: run_stats says %d, rejects/ has %d", reason, st.Rejects[reason], n)
		}
	}
	for reason, n := range st.Rejects {
		if byReason[reason] != n {
			t.Errorf("reason %s: run_stats says %d, rejects/ has %d", reason, n, byReason[reason])
		}
	}
	scores := st.Config.Image != nil && st.Config.Image.EmitScores
	rows := int64(len(res.rejects))
	if nc := st.NearDuplicateControl; nc != nil {
		rows += nc.Listed // its near_duplicates/ rows (checked by checkNearTruth)
	}
	if !scores && !st.Config.EmitSamples && st.RowsInParts != rows {
		t.Errorf("run_stats rows_in_parts %d, rejects/ (and near_duplicates/) have %d rows", st.RowsInParts, rows)
	}
}

func plantedDataset(t *testing.T, shards, perShard int, gzip bool) (string, *synth.Truth, *caption.Vocabulary) {
	t.Helper()
	lem, err := caption.English()
	if err != nil {
		t.Fatal(err)
	}
	def, err := caption.DefaultVocabulary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	truth, err := synth.Generate(synth.Config{Dir: dir, Shards: shards, SamplesPerShard: perShard, Seed: 42,
		Gzip: gzip, Concepts: synth.PlantableConcepts(def, lem, 300), BadEvery: 37})
	if err != nil {
		t.Fatal(err)
	}
	v, err := LoadVocabulary(context.Background(), filepath.Join(dir, "vocabulary.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return dir, truth, v
}

func TestPlantedSynthetic(t *testing.T) {
	for _, gz := range []bool{false, true} {
		t.Run(fmt.Sprintf("gzip=%v", gz), func(t *testing.T) {
			dir, truth, v := plantedDataset(t, 6, 500, gz)
			res := runJob(t, "", count.Request{Inputs: []string{dir}, Vocabulary: v})
			if res.stats.SamplesRead != truth.Samples {
				t.Errorf("samples_read: got %d, want %d", res.stats.SamplesRead, truth.Samples)
			}
			if res.stats.ShardsRead != 6 {
				t.Errorf("shards_read: got %d, want 6", res.stats.ShardsRead)
			}
			if res.stats.SamplesMatched != truth.SamplesWithConcept {
				t.Errorf("samples_with_concept: got %d, want %d", res.stats.SamplesMatched, truth.SamplesWithConcept)
			}
			if !reflect.DeepEqual(res.counts, truth.TextCounts) {
				for c, want := range truth.TextCounts {
					if res.counts[c] != want {
						t.Errorf("concept %q: got %d, want %d", c, res.counts[c], want)
					}
				}
				t.Fatalf("counts differ from the planted truth")
			}
			if !reflect.DeepEqual(res.order, v.Names()) {
				t.Errorf("rows are not in vocabulary order")
			}
			if !reflect.DeepEqual(res.stats.Rejects, truth.Rejects) {
				t.Errorf("rejects: got %v, want %v", res.stats.Rejects, truth.Rejects)
			}
			var nonzero, zero int
			for _, n := range truth.TextCounts {
				if n == 0 {
					zero++
				} else {
					nonzero++
				}
			}
			if zero == 0 || nonzero < 100 {
				t.Errorf("planted distribution not long-tailed enough to test zeros: %d zero, %d non-zero", zero, nonzero)
			}
		})
	}
}

// The counts must not depend on how samples are split into shards (and so
// bundles) nor on the runner.
func TestExactAcrossShardingAndRunners(t *testing.T) {
	one, truth1, v := plantedDataset(t, 1, 3000, false)
	many, truth2, _ := plantedDataset(t, 15, 200, true)
	if !reflect.DeepEqual(truth1.TextCounts, truth2.TextCounts) {
		t.Fatal("the two layouts do not hold the same captions")
	}
	a := runJob(t, "", count.Request{Inputs: []string{one}, Vocabulary: v})
	b := runJob(t, "", count.Request{Inputs: []string{many}, Vocabulary: v})
	c := runJob(t, "direct", count.Request{Inputs: []string{many}, Vocabulary: v})
	for name, r := range map[string]*result{"1 shard/prism": a, "15 shards/prism": b, "15 shards/direct": c} {
		if !reflect.DeepEqual(r.counts, truth1.TextCounts) {
			t.Errorf("%s: counts differ from the planted truth", name)
		}
	}
}

// img2dataset's brace ranges expand on the worker: every shard of the
// range is counted once even when another pattern names it too, and a
// shard the range names that is not there is a shard_missing reject, not
// a silent gap.
func TestBraceRangeInputs(t *testing.T) {
	dir, truth, v := plantedDataset(t, 4, 200, false)
	res := runJob(t, "", count.Request{Inputs: []string{
		filepath.Join(dir, "{00000..00004}.tar"), // 00004.tar does not exist
		filepath.Join(dir, "0000[02].tar"),       // overlaps the range
	}, Vocabulary: v})
	if !reflect.DeepEqual(res.counts, truth.TextCounts) {
		t.Errorf("counts differ from the planted truth (a shard counted twice or not at all)")
	}
	if res.stats.SamplesRead != truth.Samples || res.stats.ShardsRead != 4 || res.stats.ShardsFailed != 1 || res.stats.Config.Files != 5 {
		t.Errorf("samples %d (want %d), shards read %d failed %d files %d; want 4, 1, 5",
			res.stats.SamplesRead, truth.Samples, res.stats.ShardsRead, res.stats.ShardsFailed, res.stats.Config.Files)
	}
	var missing []tables.Reject
	for _, r := range res.rejects {
		if r.Reason == shard.RejectShardMissing {
			missing = append(missing, r)
		}
	}
	if len(missing) != 1 || !strings.HasSuffix(missing[0].Shard, "00004.tar") || res.stats.Rejects[shard.RejectShardMissing] != 1 {
		t.Errorf("shard_missing rejects: %+v (stats %v)", missing, res.stats.Rejects)
	}
	checkAccounting(t, res)
}

// An independent brute-force count over the 10,000 real LAION captions: a
// caption mentions a regular noun when one of its letter-only words is the
// noun or its plural (+s/+es), after HTML entities are decoded and URLs
// dropped. The nouns have no verb senses whose -ed/-ing forms the
// context-free lemmatiser would fold onto them ("boxing" → "box"; see the
// README's note on the lemmatiser).
func TestLAIONAgainstBruteForce(t *testing.T) {
	path := shareddata.Path(t, "laion-captions/test_10000.parquet")
	nouns := []string{"dog", "cat", "car", "house", "tree", "flower", "chair", "table", "shirt", "hat",
		"book", "bird", "horse", "phone", "bag", "shoe", "window", "beach", "cake", "kitchen", "girl", "pizza", "bottle", "lamp", "lake"}
	vocabText := strings.Join(nouns, "\n") + "\n"
	lem, _ := caption.English()
	v, err := caption.ParseVocabulary(strings.NewReader(vocabText), "nouns", lem)
	if err != nil {
		t.Fatal(err)
	}
	res := runJob(t, "", count.Request{Inputs: []string{path}, Vocabulary: v})
	if res.stats.SamplesRead != 10000 {
		t.Fatalf("samples_read: got %d, want 10000", res.stats.SamplesRead)
	}

	want := bruteForce(t, path, nouns).counts
	total := int64(0)
	for _, n := range nouns {
		total += want[n]
		if res.counts[n] != want[n] {
			t.Errorf("%s: pipeline %d, brute force %d", n, res.counts[n], want[n])
		}
	}
	if total < 200 {
		t.Errorf("brute force found only %d mentions: the noun list tests too little", total)
	}
}

// bruteCounts are a brute-force count: per noun, the captions (by row)
// that mention it, and their number.
type bruteCounts struct {
	counts   map[string]int64
	captions map[string]map[int]bool
}

// bruteForce counts, for each noun, the captions of an img2dataset Parquet
// file with a letter-only word equal to the noun or its plural (+s/+es),
// after HTML entities are decoded and URLs dropped.
func bruteForce(t *testing.T, path string, nouns []string) bruteCounts {
	t.Helper()
	out := bruteCounts{counts: map[string]int64{}, captions: map[string]map[int]bool{}}
	forEachCaptionWords(t, path, func(row int, words map[string]bool) {
		for _, n := range nouns {
			if words[n] || words[n+"s"] || words[n+"es"] {
				out.counts[n]++
				if out.captions[n] == nil {
					out.captions[n] = map[int]bool{}
				}
				out.captions[n][row] = true
			}
		}
	})
	return out
}

// wordHits are the captions (by row) holding any of a set of words.
type wordHits map[int]bool

// without counts the hits whose caption is not in rows.
func (h wordHits) without(rows map[int]bool) int64 {
	var n int64
	for r := range h {
		if !rows[r] {
			n++
		}
	}
	return n
}

// bruteForceWords returns the captions holding any of the exact words.
func bruteForceWords(t *testing.T, path string, forms []string) wordHits {
	t.Helper()
	hits := wordHits{}
	forEachCaptionWords(t, path, func(row int, words map[string]bool) {
		for _, f := range forms {
			if words[f] {
				hits[row] = true
			}
		}
	})
	return hits
}

// forEachCaptionWords calls each with every caption's set of lower-case
// letter-only words and digit runs, after HTML entities are decoded and URLs
// dropped.
func forEachCaptionWords(t *testing.T, path string, each func(row int, words map[string]bool)) {
	t.Helper()
	wordRE := regexp.MustCompile(`\p{L}+|\p{Nd}+`) // letter runs and digit runs, as the tokenizer splits
	for row, c := range shareddata.Captions(t, strings.TrimPrefix(path, shareddata.Dir()+"/")) {
		var kept []string
		for _, f := range strings.Fields(html.UnescapeString(c)) {
			lf := strings.ToLower(f)
			if strings.Contains(lf, "://") || strings.HasPrefix(lf, "www.") {
				continue
			}
			kept = append(kept, lf)
		}
		words := map[string]bool{}
		for _, w := range wordRE.FindAllString(strings.Join(kept, " "), -1) {
			words[w] = true
		}
		each(row, words)
	}
}

// The context-free lemmatiser's known cost (the README's note): nouns that
// are also verbs gain the captions that hold only their -ed/-ing forms
// ("Boxing" → box). An independent count backs it: pipeline count = captions
// with the whole word (or plural) + captions with only a verb form.
func TestLemmatiserFoldsVerbForms(t *testing.T) {
	path := shareddata.Path(t, "laion-captions/test_10000.parquet")
	nouns := []string{"dress", "box", "watch", "garden", "ring", "boat"}
	verbForms := map[string][]string{}
	var all []string
	for _, n := range nouns {
		verbForms[n] = []string{n + "ed", n + "ing"}
		all = append(all, n)
	}
	verbForms["ring"] = append(verbForms["ring"], "rang", "rung")
	verbForms["dress"] = []string{"dressed"} // "dressing" is a noun of its own (salad dressing): its own lemma
	lem, _ := caption.English()
	v, err := caption.ParseVocabulary(strings.NewReader(strings.Join(nouns, "\n")), "verb-nouns", lem)
	if err != nil {
		t.Fatal(err)
	}
	res := runJob(t, "", count.Request{Inputs: []string{path}, Vocabulary: v})
	words := bruteForce(t, path, nouns)
	onlyVerb := map[string]int64{}
	for _, n := range nouns {
		forms := bruteForceWords(t, path, verbForms[n])
		onlyVerb[n] = forms.without(words.captions[n])
	}
	folded := int64(0)
	for _, n := range nouns {
		t.Logf("%s: pipeline %d = whole words %d + only verb forms %d", n, res.counts[n], words.counts[n], onlyVerb[n])
		if res.counts[n] != words.counts[n]+onlyVerb[n] {
			t.Errorf("%s: pipeline %d, want whole words %d + only verb forms %d", n, res.counts[n], words.counts[n], onlyVerb[n])
		}
		folded += onlyVerb[n]
	}
	if folded == 0 {
		t.Error("no caption holds only a verb form: the test shows nothing")
	}
}

// The bundled shards (the default input, make run's demo): 1,000 real
// LAION captions in three img2dataset-style shards, every one counted.
func TestBundledShards(t *testing.T) {
	inputs := strings.Split(strings.ReplaceAll(DefaultInput, "testdata/", "../../testdata/"), ",")
	res := runJob(t, "", count.Request{Inputs: inputs})
	st := res.stats
	// laion-00000 200 + laion-00001 300 + laion-00002 500.
	if st.SamplesRead != 1000 || st.SamplesWithCaption != 1000 || st.ShardsRead != 3 || st.ShardsFailed != 0 {
		t.Errorf("got %d samples (%d with a caption) in %d shards (%d failed), want 1,000 (1,000) in 3 (0)", st.SamplesRead, st.SamplesWithCaption, st.ShardsRead, st.ShardsFailed)
	}
	if len(st.Rejects) != 0 || len(res.rejects) != 0 {
		t.Errorf("rejects: got %v and %d rows, want none", st.Rejects, len(res.rejects))
	}
	def, err := caption.DefaultVocabulary()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.order, def.Names()) {
		t.Errorf("got %d rows, want one per default concept (%d) in vocabulary order", len(res.order), len(def.Concepts))
	}
}

func TestBadShardsAreRejectedNotFatal(t *testing.T) {
	dir, truth, v := plantedDataset(t, 2, 100, false)
	good, err := os.ReadFile(filepath.Join(dir, "00000.tar"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "00000.tar"), good[:len(good)/2+100], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "garbage.tar"), []byte(strings.Repeat("not a tar\n", 200)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.parquet"), []byte("PAR1 but not really"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := runJob(t, "", count.Request{Inputs: []string{dir}, Vocabulary: v})
	st := res.stats
	if st.ShardsRead != 1 || st.ShardsFailed != 3 {
		t.Errorf("got %d read, %d failed; want 1 and 3", st.ShardsRead, st.ShardsFailed)
	}
	if st.Rejects[shard.RejectShardTruncated] != 1 || st.Rejects[shard.RejectShardBadFormat] != 2 {
		t.Errorf("shard rejects: got %v", st.Rejects)
	}
	if st.SamplesRead <= 100 || st.SamplesRead >= truth.Samples {
		t.Errorf("samples_read %d: want the intact shard plus the truncated shard's first half", st.SamplesRead)
	}
	if st.SamplesInFailedShards != st.SamplesRead-100 || st.SamplesInFailedShards == 0 {
		t.Errorf("samples_in_failed_shards %d, want the truncated shard's %d kept samples", st.SamplesInFailedShards, st.SamplesRead-100)
	}
	shardRejects := 0
	for _, r := range res.rejects {
		if shard.IsShardReason(r.Reason) {
			shardRejects++
		}
		if shard.IsShardReason(r.Reason) && !strings.Contains(r.Detail, filepath.Base(r.Shard)) {
			t.Errorf("shard reject detail does not name the file: %+v", r)
		}
	}
	if shardRejects != 3 {
		t.Errorf("rejects/ has %d shard rows, want 3", shardRejects)
	}
}

func TestPhraseRuleAndAliases(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "v.txt"), []byte("dining table\ncar\tautomobile\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	shard := filepath.Join(dir, "s.tar")
	writeShard(t, shard, []string{"a dining table", "table for dining", "an automobile and a car", "nothing"})
	v, err := LoadVocabulary(context.Background(), filepath.Join(dir, "v.txt"))
	if err != nil {
		t.Fatal(err)
	}
	all := runJob(t, "", count.Request{Inputs: []string{shard}, Vocabulary: v})
	phrase := runJob(t, "", count.Request{Inputs: []string{shard}, Rule: caption.Phrase, Vocabulary: v})
	if all.counts["dining table"] != 2 || phrase.counts["dining table"] != 1 {
		t.Errorf("dining table: all-words %d (want 2), phrase %d (want 1)", all.counts["dining table"], phrase.counts["dining table"])
	}
	if all.counts["car"] != 1 {
		t.Errorf("car with alias: got %d, want 1 (counted once)", all.counts["car"])
	}
	if phrase.stats.Config.Match != "phrase" || all.stats.Config.VocabularySize != 2 || all.stats.Config.VocabularyHash == "" {
		t.Errorf("run_stats config: %+v", phrase.stats.Config)
	}
}

func writeShard(t *testing.T, path string, captions []string) {
	t.Helper()
	dir := t.TempDir()
	_, err := synth.Generate(synth.Config{Dir: dir, Shards: 1, SamplesPerShard: len(captions), Captions: captions})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "00000.tar"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadVocabularyNamesMissingFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadVocabulary(context.Background(), filepath.Join(dir, "missing.txt")); err == nil || !strings.Contains(err.Error(), "--concepts") || !strings.Contains(err.Error(), "missing.txt") {
		t.Errorf("missing vocabulary: got %v, want an error naming --concepts and the file", err)
	}
}

// TestDuckDBInterop reads concept_counts.parquet with DuckDB (the npm
// package @duckdb/node-api, installed by `make test` under .cache/node) and
// compares every row with what Go wrote.
func TestDuckDBInterop(t *testing.T) {
	dir, _, v := plantedDataset(t, 2, 300, false)
	res := runJob(t, "", count.Request{Inputs: []string{dir}, Vocabulary: v})
	var rows []struct {
		Concept     string `json:"concept"`
		TextCount   string `json:"text_count"`
		ImageNull   bool   `json:"image_null"`
		MatchedNull bool   `json:"matched_null"`
		Type        string `json:"t"`
	}
	duckdb(t, fmt.Sprintf("select concept, text_count, image_count is null as image_null, matched_count is null as matched_null, typeof(text_count) as t from '%s'",
		filepath.Join(res.dir, tables.ConceptCountsFile)), &rows)
	if len(rows) != len(res.rows) {
		t.Fatalf("duckdb read %d rows, Go wrote %d", len(rows), len(res.rows))
	}
	for i, r := range rows {
		g := res.rows[i]
		if r.Concept != g.Concept || r.TextCount != fmt.Sprint(g.TextCount) || !r.ImageNull || !r.MatchedNull || r.Type != "BIGINT" {
			t.Fatalf("row %d: duckdb %+v, Go %+v", i, r, g)
		}
	}
	// Rejects and their reasons, too.
	var reasons []struct {
		Reason string `json:"reason"`
		N      string `json:"n"`
	}
	duckdb(t, fmt.Sprintf("select reason, count(*) as n from '%s' group by reason order by reason", filepath.Join(res.dir, tables.RejectsDir, "*.parquet")), &reasons)
	got := map[string]int64{}
	for _, r := range reasons {
		var n int64
		fmt.Sscan(r.N, &n)
		got[r.Reason] = n
	}
	if !reflect.DeepEqual(got, res.stats.Rejects) {
		t.Errorf("duckdb reject reasons %v, run_stats %v", got, res.stats.Rejects)
	}
}

// duckdb runs a query with DuckDB for Node and decodes its JSON rows.
func duckdb(t *testing.T, query string, rows any) {
	t.Helper()
	nodeDir, _ := filepath.Abs("../../.cache/node")
	if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", "@duckdb", "node-api")); err != nil {
		if os.Getenv("CONCEPTFREQ_REQUIRE_DUCKDB") != "" {
			t.Fatalf("DuckDB for Node is not installed under %s: run `make deps`", nodeDir)
		}
		t.Skipf("DuckDB for Node not installed under %s (make test installs it)", nodeDir)
	}
	script := filepath.Join(nodeDir, "duckdb_query.mjs")
	if err := os.WriteFile(script, []byte(duckdbScript), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("node", script, query).CombinedOutput()
	if err != nil {
		t.Fatalf("duckdb: %v\n%s", err, out)
	}
	if err := json.Unmarshal(out, rows); err != nil {
		t.Fatalf("duckdb output: %v\n%s", err, out)
	}
}

const duckdbScript = `import { DuckDBInstance } from '@duckdb/node-api';
const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
const r = await con.runAndReadAll(process.argv[2]);
console.log(JSON.stringify(r.getRowObjectsJson()));
`

func TestSummaryMentionsEverything(t *testing.T) {
	rs := &count.RunStats{Stats: concept.Stats{ShardsRead: 2, ShardsFailed: 1, SamplesInFailedShards: 500, SamplesRead: 1510, SamplesWithCaption: 1508,
		Rejects: map[string]int64{"no_caption": 2, shard.RejectShardTruncated: 1}}, SampleRejects: 2,
		TopConcepts: []count.ConceptTotal{{Concept: "dog", TextCount: 5}}, SamplesPerSecond: 123, OutputFiles: []string{"a"}}
	var b strings.Builder
	PrintSummary(&b, "out", rs)
	for _, want := range []string{"3 shards (2 read whole, 1 ended early or unreadable: 500 samples before the damage kept)",
		"1,510 samples read", "no_caption", "2 samples", "shard_truncated", "1 shard\n", "dog", "123 samples/s"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
	// A truncated shard alone: its kept samples are said, not "0 read".
	rs = &count.RunStats{Stats: concept.Stats{ShardsFailed: 1, SamplesInFailedShards: 1, SamplesRead: 1, SamplesWithCaption: 1,
		Rejects: map[string]int64{shard.RejectShardTruncated: 1}}}
	b.Reset()
	PrintSummary(&b, "out", rs)
	if !strings.Contains(b.String(), "1 shard, all ended early or unreadable (1 sample before the damage kept); 1 sample read") {
		t.Errorf("one truncated shard:\n%s", b.String())
	}
}

// The bundled shards are found from any working directory.
func TestDefaultInputsFromAnyDirectory(t *testing.T) {
	t.Chdir(t.TempDir())
	found, err := beamfs.Expand(context.Background(), DefaultInputs())
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 3 {
		t.Errorf("found %d bundled shards from another directory, want 3: %v", len(found), found)
	}
}

// Numbers are not words: "3" is not "third" (golem lemmatises digits into
// ordinals), in every mode; a number concept matches the number.
func TestNumbersAreNotWords(t *testing.T) {
	path := shareddata.Path(t, "laion-captions/test_10000.parquet")
	lem, _ := caption.English()
	v, err := caption.ParseVocabulary(strings.NewReader("third\nfourth\n2020\n"), "numbers", lem)
	if err != nil {
		t.Fatal(err)
	}
	for _, rule := range []caption.Rule{caption.AllWords, caption.Phrase} {
		res := runJob(t, "", count.Request{Inputs: []string{path}, Rule: rule, Vocabulary: v})
		for concept, forms := range map[string][]string{"third": {"third", "thirds"}, "fourth": {"fourth", "fourths"}, "2020": {"2020"}} {
			want := int64(len(bruteForceWords(t, path, forms)))
			if res.counts[concept] != want {
				t.Errorf("%s: %s counts %d captions, want the %d with the word", rule, concept, res.counts[concept], want)
			}
			if want == 0 {
				t.Errorf("%s: no caption has %s: the test shows nothing", rule, concept)
			}
		}
	}
}

// count → fit on the real LAION captions with the default vocabulary:
// every class of the study's 18 fitted datasets joins (cifar10's plane
// through its alias), so unmatched.parquet is empty for the count kind
// fitted.
func TestCountThenFitJoinsEveryClass(t *testing.T) {
	path := shareddata.Path(t, "laion-captions/test_10000.parquet")
	paperDir := shareddata.Path(t, "paper")
	res := runJob(t, "", count.Request{Inputs: []string{path}})
	slice := func(s string) fitstats.Slice {
		sl, err := fitstats.ParseSlice(s)
		if err != nil {
			t.Fatal(err)
		}
		return sl
	}
	cfg := scalinglaw.Config{PaperDir: paperDir, CountsPath: paths.Join(res.dir, tables.ConceptCountsFile), CountKind: paper.Text,
		CountsPretraining: "laion400m", Output: t.TempDir(), Pairs: paper.Pairs, Prompts: paper.Prompts, Datasets: paper.Datasets,
		Kinds: []paper.CountKind{paper.Matched}, Threshold: "0.7", NBins: 12, DefaultSlice: slice("1:-1"),
		Slices: map[string]fitstats.Slice{"laion400m": slice("2:-1")}, Zeros: fitstats.ZerosExclude, TailK: 10,
		Aliases: map[string]map[string]string{"cifar10": {"plane": "airplane"}}}
	fit, err := scalinglaw.LoadAndFit(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := scalinglaw.WriteAll(context.Background(), cfg.Output, fit, cfg); err != nil {
		t.Fatal(err)
	}
	ours := 0
	for _, f := range fit.Fits {
		if f.Pretraining == "laion400m" && f.Own() {
			ours++
		}
	}
	if ours == 0 {
		t.Fatal("no fit used this run's counts")
	}
	var unmatched []string
	for _, u := range fit.Unmatched {
		if u.Pretraining == "laion400m" && u.Kind == string(paper.Text) {
			unmatched = append(unmatched, u.Dataset+"/"+u.Concept)
		}
	}
	if len(unmatched) != 0 {
		t.Errorf("%d performance classes did not join this run's counts, e.g. %v", len(unmatched), unmatched[:min(10, len(unmatched))])
	}
}

// The study rule's "skipped when absent from the whole input" is exact
// whatever the sharding: a piece that only one shard holds changes the
// counts of every shard's samples as a single run over all of them would.
func TestStudyRuleComposesOverShards(t *testing.T) {
	dir := t.TempDir()
	lem, _ := caption.English()
	v, err := caption.ParseVocabulary(strings.NewReader("four-poster bed\nT-shirt\nkite (bird of prey)\nModel B200\n"), "study", lem)
	if err != nil {
		t.Fatal(err)
	}
	beds := []string{"a bed in a room", "the bed is made", "a large bed with pillows", "a wooden bed", "a bed", "a shirt on a bed"}
	posters := []string{"a poster on the wall next to a bed"} // the only caption with "poster"
	others := []string{"a model wearing a T-shirt", "a kite in the sky", "a bird on a kite", "the model B200"}
	var all []string
	all = append(append(append(all, beds...), others...), posters...)
	for _, sub := range []string{"one", "split", "noposter"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeShard(t, filepath.Join(dir, "one", "all.tar"), all)
	writeShard(t, filepath.Join(dir, "split", "a.tar"), beds)
	writeShard(t, filepath.Join(dir, "split", "b.tar"), others)
	writeShard(t, filepath.Join(dir, "split", "c.tar"), posters)
	writeShard(t, filepath.Join(dir, "noposter", "a.tar"), beds)
	writeShard(t, filepath.Join(dir, "noposter", "b.tar"), others)
	run := func(sub, runner string) map[string]int64 {
		return runJob(t, runner, count.Request{Inputs: []string{filepath.Join(dir, sub)}, Rule: caption.Study, Vocabulary: v}).counts
	}
	one, split, direct := run("one", ""), run("split", ""), run("split", "direct")
	if !reflect.DeepEqual(one, split) || !reflect.DeepEqual(one, direct) {
		t.Errorf("one shard %v, three shards %v, direct %v: want the same counts", one, split, direct)
	}
	// With "poster" in the input, four-poster bed needs both pieces: only
	// the poster caption. Without it, "poster" is skipped: every bed.
	if one["four-poster bed"] != 1 {
		t.Errorf("four-poster bed with a poster in the input: %d, want 1 (the caption with both)", one["four-poster bed"])
	}
	noPoster := run("noposter", "")
	if noPoster["four-poster bed"] != 6 {
		t.Errorf("four-poster bed without a poster in the input: %d, want the 6 bed captions", noPoster["four-poster bed"])
	}
	// T-shirt needs "shirt"; Model B200 needs "model" (b200 is not a
	// letters-only key).
	if one["T-shirt"] != 2 || one["Model B200"] != 2 {
		t.Errorf("T-shirt %d (want 2), Model B200 %d (want 2)", one["T-shirt"], one["Model B200"])
	}
}

// A run that counted nothing it should have fails with one line saying
// why; rejects alone do not fail a run unless --max_reject_fraction says so.
func TestVerdict(t *testing.T) {
	stats := func(read, failed, samples, rejects int64, reasons map[string]int64) *count.RunStats {
		return &count.RunStats{Stats: concept.Stats{ShardsRead: read, ShardsFailed: failed, SamplesRead: samples, Rejects: reasons}, SampleRejects: rejects}
	}
	for _, tc := range []struct {
		name      string
		rs        *count.RunStats
		maxReject float64
		want      string
	}{
		{"fine", stats(2, 0, 100, 10, nil), 1, ""},
		{"rejects below the limit", stats(2, 0, 100, 10, nil), 0.1, ""},
		{"rejects above the limit", stats(2, 0, 100, 11, nil), 0.1, "11 of 100 samples rejected (11.0%), more than --max_reject_fraction=0.1"},
		{"all rejected, default limit", stats(1, 0, 90, 90, nil), 1, ""},
		{"empty shard", stats(0, 1, 0, 0, map[string]int64{shard.RejectShardEmpty: 1}), 1, "every input shard failed and no sample could be read (shard_empty: 1"},
		{"empty tar read whole", stats(1, 0, 0, 0, nil), 1, "no sample could be read from 1 shard(s)"},
		{"all truncated, some kept", stats(0, 2, 500, 0, map[string]int64{shard.RejectShardTruncated: 2}), 1, "every input shard failed (shard_truncated: 2); the 500 samples read before the damage are counted"},
		{"one of two failed", stats(1, 1, 500, 0, map[string]int64{shard.RejectShardBadFormat: 1}), 1, ""},
	} {
		err := Verdict(tc.rs, tc.maxReject)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
}

// run_stats.json says whether the run is complete: a run past
// --max_reject_fraction, or one whose every shard failed, writes its
// outputs with status failed and the reason (and the limit it was judged
// by in config); a clean run says complete and names the version.
func TestRunStatsStatus(t *testing.T) {
	dir := t.TempDir()
	var b bytes.Buffer
	w := wds.NewWriter(&b, false)
	w.WriteSample("k1", map[string][]byte{"txt": []byte("a dog on a bench")})
	w.WriteSample("k2", map[string][]byte{"jpg": []byte("x")}) // no caption
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "00000.tar")
	if err := os.WriteFile(good, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.tar")
	if err := os.WriteFile(bad, []byte("not a tar at all, just text"), 0o644); err != nil {
		t.Fatal(err)
	}
	limit := func(f float64) *float64 { return &f }
	for _, tc := range []struct {
		name   string
		req    count.Request
		status string
		reason string
		limit  float64
	}{
		{"clean", count.Request{Inputs: []string{good}, Version: "v-test"}, count.StatusComplete, "", 1},
		{"past the reject limit", count.Request{Inputs: []string{good}, MaxRejectFraction: limit(0.25), Version: "v-test"}, count.StatusFailed,
			"1 of 2 samples rejected (50.0%), more than --max_reject_fraction=0.25", 0.25},
		{"every shard failed", count.Request{Inputs: []string{bad}, Version: "v-test"}, count.StatusFailed, "every input shard failed", 1},
	} {
		res := runJob(t, "", tc.req)
		rs := res.stats
		if rs.Status != tc.status || !strings.Contains(rs.StatusReason, tc.reason) || (tc.reason == "") != (rs.StatusReason == "") {
			t.Errorf("%s: status %q (%q), want %q (%q)", tc.name, rs.Status, rs.StatusReason, tc.status, tc.reason)
		}
		if rs.Version != "v-test" || rs.Config.MaxRejectFraction != tc.limit {
			t.Errorf("%s: version %q, max_reject_fraction %v; want v-test and %v", tc.name, rs.Version, rs.Config.MaxRejectFraction, tc.limit)
		}
	}
}

// A shard whose file and member names are not valid UTF-8 still gives
// tables DuckDB reads: the names are written with \xNN escapes.
func TestInvalidUTF8NamesReadByDuckDB(t *testing.T) {
	dir := t.TempDir()
	shardPath := filepath.Join(dir, "bad\xffname.tar")
	f, err := os.Create(shardPath)
	if err != nil {
		t.Fatal(err)
	}
	w := wds.NewWriter(f, false)
	for _, s := range []struct{ key, caption string }{{"k\xfe1", "a dog on a bench"}, {"k\xfe2", ""}} {
		members := map[string][]byte{"jpg": []byte("x")}
		if s.caption != "" {
			members["txt"] = []byte(s.caption)
		}
		if err := w.WriteSample(s.key, members); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	res := runJob(t, "", count.Request{Inputs: []string{dir}, EmitSamples: true})
	var rows []struct {
		Shard string `json:"shard"`
		Key   string `json:"key"`
	}
	for _, d := range []string{tables.RejectsDir, tables.SampleConceptsDir} {
		rows = rows[:0]
		duckdb(t, fmt.Sprintf("select shard, key from '%s'", filepath.Join(res.dir, d, "*.parquet")), &rows)
		if len(rows) != 1 || !strings.HasSuffix(rows[0].Shard, `bad\xffname.tar`) || !strings.HasPrefix(rows[0].Key, `k\xfe`) {
			t.Errorf("%s read by DuckDB: %+v, want one row naming the shard and key with \\xNN escapes", d, rows)
		}
	}
}
