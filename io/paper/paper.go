// Package paper reads the released data of the study "No Zero-Shot Without
// Exponential Data" (arXiv 2404.04125, bethgelab/frequency_determines_performance):
// per-concept search counts and per-class zero-shot accuracies, plus generic
// performance tables in CSV or Parquet.
package paper

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/conceptfreq/conceptfreq/io/beamfs"
)

// ErrNotFound wraps a missing input file.
var ErrNotFound = errors.New("paper: file not found")

// ErrEmpty wraps a performance table without rows.
var ErrEmpty = errors.New("paper: the performance table is empty")

// Datasets are the 18 classification datasets the study fitted over.
var Datasets = []string{"imagenet", "cifar10", "cifar100", "caltech101", "caltech256", "sun397",
	"birdsnap", "country211", "cub", "dtd", "eurosat", "fgvcaircraft", "flowers102", "food101",
	"imagenet-sketch", "oxfordpets", "stanfordcars", "ucf101"}

// Prompts are the study's three prompt styles.
var Prompts = []string{"class", "simple", "ensemble"}

// Pair is one (pretraining dataset, model) the study plotted.
type Pair struct{ Pretraining, Model string }

// Pairs are the 11 model/pretraining pairs of the study's figures.
var Pairs = []Pair{
	{"cc3m", "RN50"}, {"cc3m", "ViT-B-16"},
	{"cc12m", "RN50"}, {"cc12m", "ViT-B-16"},
	{"yfcc15m", "RN50"}, {"yfcc15m", "RN101"}, {"yfcc15m", "ViT-B-16"},
	{"laion400m", "ViT-B-32"}, {"laion400m", "ViT-B-16"}, {"laion400m", "ViT-L-14"},
	{"synthci30m", "ViT-B-16"},
}

// CountKind is which frequency a fit uses.
type CountKind string

// Count kinds.
const (
	Matched CountKind = "matched" // concept in caption and image (the study's main result)
	Text    CountKind = "text"    // concept in caption (lemmatised search)
	Image   CountKind = "image"   // concept in image (RAM++ tag above threshold)
	// The same over the samples that are not near-duplicates of a test
	// image (a count run with similarity control; not in the study's data).
	MatchedDissimilar CountKind = "matched_dissimilar"
	TextDissimilar    CountKind = "text_dissimilar"
	ImageDissimilar   CountKind = "image_dissimilar"
)

// OurKinds are the count kinds of a conceptfreq concept_counts.parquet.
var OurKinds = []CountKind{Matched, Text, Image, MatchedDissimilar, TextDissimilar, ImageDissimilar}

// SearchCountsFile is the file name of the study's counts of one dataset,
// pretraining dataset and kind at a tagger threshold (e.g. "0.7").
func SearchCountsFile(dataset, pretraining string, kind CountKind, threshold string) string {
	method := "lemmatized"
	switch kind {
	case Matched:
		method = "integrated_tlemmatized_i" + threshold
	case Image:
		method = "rampp" + threshold
	}
	return fmt.Sprintf("%s_%s_%s_search_counts.json", dataset, pretraining, method)
}

// ZeroShotFile is the file name of the per-class accuracies of a dataset
// under a prompt style.
func ZeroShotFile(dataset, prompt string) string {
	return fmt.Sprintf("%s_%s_results.json", dataset, prompt)
}

// Counts is a concept → count map with the file's key order.
type Counts struct {
	Names  []string
	Values map[string]float64
}

// ReadCounts reads a {concept: count} JSON file.
func ReadCounts(ctx context.Context, path string) (*Counts, error) {
	b, err := beamfs.ReadAll(ctx, path)
	if err != nil {
		if beamfs.IsNotExist(err) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, path)
		}
		return nil, fmt.Errorf("paper: %w", err)
	}
	c := &Counts{Values: map[string]float64{}}
	err = orderedObject(b, func(key string, raw json.RawMessage) error {
		var v float64
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("count of %q: %v", key, err)
		}
		if v < 0 || v != v {
			return fmt.Errorf("count of %q is %v", key, v)
		}
		if _, dup := c.Values[key]; !dup {
			c.Names = append(c.Names, key)
		}
		c.Values[key] = v
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("paper: %s: %w", path, err)
	}
	return c, nil
}

// ModelResult is one model's accuracies on one dataset.
type ModelResult struct {
	Key       string // e.g. "backboneRN50_pretrainedcc3m"
	Full      float64
	Classwise map[string]float64
	Classes   []string // in file order
}

// ReadZeroShot reads a zero_shot_evaluations results file, models in file order.
func ReadZeroShot(ctx context.Context, path string) ([]ModelResult, error) {
	return readResults(ctx, path, "classwise")
}

// RetrievalDatasets are the study's retrieval test sets (their concepts
// pooled in its retrieval fits).
var RetrievalDatasets = []string{"coco", "flickr"}

// RetrievalMetric is one of the study's retrieval metrics: its name in the
// released files and in conceptfreq's outputs.
type RetrievalMetric struct{ File, Name string }

// RetrievalMetrics are the six: recall@1, @5 and @10, image→text and
// text→image.
var RetrievalMetrics = []RetrievalMetric{
	{"i2t_k=1", "i2t_recall@1"}, {"i2t_k=5", "i2t_recall@5"}, {"i2t_k=10", "i2t_recall@10"},
	{"t2i_k=1", "t2i_recall@1"}, {"t2i_k=5", "t2i_recall@5"}, {"t2i_k=10", "t2i_recall@10"},
}

// RetrievalFile is the file name of a retrieval test set's per-concept
// recall under a metric (its File name).
func RetrievalFile(dataset, metric string) string {
	return fmt.Sprintf("%s_%s_results.json", dataset, metric)
}

// ReadRetrieval reads a retrieval_evaluations results file: per model, the
// overall recall (Full) and the per-concept recall (Classwise, by concept),
// fractions in [0, 1].
func ReadRetrieval(ctx context.Context, path string) ([]ModelResult, error) {
	return readResults(ctx, path, "conceptwise")
}

// readResults reads a results file of the study's: per model key, "full"
// and the per-class or per-concept object named field.
func readResults(ctx context.Context, path, field string) ([]ModelResult, error) {
	b, err := beamfs.ReadAll(ctx, path)
	if err != nil {
		if beamfs.IsNotExist(err) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, path)
		}
		return nil, fmt.Errorf("paper: %w", err)
	}
	var out []ModelResult
	err = orderedObject(b, func(key string, raw json.RawMessage) error {
		m := ModelResult{Key: key, Classwise: map[string]float64{}}
		var body map[string]json.RawMessage
		if err := json.Unmarshal(raw, &body); err != nil {
			return fmt.Errorf("model %q: %v", key, err)
		}
		if full, ok := body["full"]; ok {
			if err := json.Unmarshal(full, &m.Full); err != nil {
				return fmt.Errorf("model %q: full: %v", key, err)
			}
		}
		per, ok := body[field]
		if !ok {
			return fmt.Errorf("model %q has no %q object", key, field)
		}
		if err := orderedObject(per, func(class string, v json.RawMessage) error {
			var acc float64
			if err := json.Unmarshal(v, &acc); err != nil {
				return fmt.Errorf("model %q class %q: %v", key, class, err)
			}
			m.Classes = append(m.Classes, class)
			m.Classwise[class] = acc
			return nil
		}); err != nil {
			return err
		}
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("paper: %s: %w", path, err)
	}
	return out, nil
}

// FindModel returns the first result whose key contains both the model and
// the pretraining dataset name, as the study selected them.
func FindModel(results []ModelResult, model, pretraining string) (*ModelResult, bool) {
	for i := range results {
		k := results[i].Key
		if strings.Contains(k, "backbone"+model+"_") && strings.Contains(k, "pretrained"+pretraining) {
			return &results[i], true
		}
	}
	for i := range results { // keys in another naming scheme
		if strings.Contains(results[i].Key, model) && strings.Contains(results[i].Key, pretraining) {
			return &results[i], true
		}
	}
	return nil, false
}

func orderedObject(b []byte, each func(key string, raw json.RawMessage) error) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("want a JSON object (%v)", err)
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		if err := each(t.(string), raw); err != nil {
			return err
		}
	}
	return nil
}

// PerfRow is one row of a generic performance table.
type PerfRow struct {
	Model, Pretraining, Dataset, Prompt, Concept string
	Metric                                       float64
	// Task is "retrieval" for rows of a retrieval evaluation (their prompt
	// names the metric, e.g. t2i_recall@1), else "" (classification).
	Task string
}

// PerfColumns are the required columns of a generic performance table;
// "prompt" and "task" are optional.
var PerfColumns = []string{"model", "pretraining", "dataset", "concept", "metric"}

// ReadPerformance reads a CSV (header row) or Parquet performance table.
func ReadPerformance(ctx context.Context, path string) ([]PerfRow, error) {
	b, err := beamfs.ReadAll(ctx, path)
	if err != nil {
		if beamfs.IsNotExist(err) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, path)
		}
		return nil, fmt.Errorf("paper: %w", err)
	}
	var rows []map[string]string
	var columns []string
	if strings.EqualFold(filepath.Ext(path), ".parquet") || bytes.HasPrefix(b, []byte("PAR1")) {
		rows, columns, err = parquetRows(b)
	} else {
		rows, columns, err = csvRows(b)
	}
	if err != nil {
		return nil, fmt.Errorf("paper: %s: %w", path, err)
	}
	var missing []string
	for _, c := range PerfColumns {
		if !slices.Contains(columns, c) {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("paper: %s is not a performance table: no column %s (want %v, optional prompt; found %v)", path, strings.Join(missing, ", "), PerfColumns, columns)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%w: %s has the columns %v but no rows", ErrEmpty, path, columns)
	}
	out := make([]PerfRow, 0, len(rows))
	for i, r := range rows {
		m, err := math.NaN(), error(nil) // an empty (null) metric is missing: NaN, dropped by the fit
		if v := strings.TrimSpace(r["metric"]); v != "" {
			m, err = strconv.ParseFloat(v, 64)
		}
		if err != nil {
			return nil, fmt.Errorf("paper: %s: row %d: metric %q is not a number", path, i+1, r["metric"])
		}
		prompt := r["prompt"]
		if prompt == "" {
			prompt = "default"
		}
		task := strings.TrimSpace(r["task"])
		switch task {
		case "", "classification":
			task = ""
		case "retrieval":
		default:
			return nil, fmt.Errorf("paper: %s: row %d: task %q (want classification or retrieval)", path, i+1, task)
		}
		out = append(out, PerfRow{Model: r["model"], Pretraining: r["pretraining"], Dataset: r["dataset"],
			Prompt: prompt, Concept: r["concept"], Metric: m, Task: task})
	}
	return out, nil
}

func csvRows(b []byte) ([]map[string]string, []string, error) {
	r := csv.NewReader(bytes.NewReader(b))
	header, err := r.Read()
	if err == io.EOF {
		return nil, nil, fmt.Errorf("%w: the file is empty (no CSV header)", ErrEmpty)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("CSV header: %w", err)
	}
	for i, h := range header {
		header[i] = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
	}
	var out []map[string]string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, header, nil
		}
		if err != nil {
			return nil, header, err
		}
		m := map[string]string{}
		for i, h := range header {
			if i < len(rec) {
				m[h] = rec[i]
			}
		}
		out = append(out, m)
	}
}

func parquetRows(b []byte) ([]map[string]string, []string, error) {
	pf, err := file.NewParquetReader(bytes.NewReader(b))
	if err != nil {
		return nil, nil, fmt.Errorf("not a readable Parquet file (%v)", err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		return nil, nil, err
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		return nil, nil, err
	}
	defer tbl.Release()
	var columns []string
	for _, f := range tbl.Schema().Fields() {
		columns = append(columns, f.Name)
	}
	tr := array.NewTableReader(tbl, 0)
	defer tr.Release()
	var out []map[string]string
	for tr.Next() {
		rec := tr.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			m := map[string]string{}
			for j, f := range rec.Schema().Fields() {
				col := rec.Column(j)
				if col.IsNull(i) {
					m[f.Name] = ""
					continue
				}
				m[f.Name] = valueString(col, i)
			}
			out = append(out, m)
		}
	}
	return out, columns, tr.Err()
}

func valueString(a arrow.Array, i int) string {
	switch c := a.(type) {
	case *array.String:
		return c.Value(i)
	case *array.LargeString:
		return c.Value(i)
	case *array.Float64:
		return strconv.FormatFloat(c.Value(i), 'g', -1, 64)
	case *array.Float32:
		return strconv.FormatFloat(float64(c.Value(i)), 'g', -1, 32)
	case *array.Int64:
		return strconv.FormatInt(c.Value(i), 10)
	case *array.Int32:
		return strconv.FormatInt(int64(c.Value(i)), 10)
	}
	return a.ValueStr(i)
}
