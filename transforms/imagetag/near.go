package imagetag

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/conceptfreq/conceptfreq/io/paths"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/models/ort"
	"github.com/conceptfreq/conceptfreq/models/preprocess"
	"github.com/conceptfreq/conceptfreq/models/tagging"
	"github.com/conceptfreq/conceptfreq/transforms/neardup"
)

// Similarity control (--near_duplicates): with the embedding tagger, each
// tagged image's embedding (the model output the concept scores come
// from) is also compared with every test image of the test sets' embedding
// files (pipelines/embed --images); a sample whose most similar test image
// is at least NearThreshold similar (cosine) is a near-duplicate, left out
// of the _dissimilar counts.

// Defaults of the similarity-control flags.
const (
	DefaultNearThreshold = 0.95
	DefaultNearFloor     = 0.90
)

// NearFile is one test-embeddings file as resolved at launch.
type NearFile struct {
	Path     string           `json:"path"`
	SHA256   string           `json:"sha256"`
	Images   int              `json:"test_images"`
	Datasets map[string]int64 `json:"datasets"` // test images per dataset
	// Provenance is what the file says made it: same (the run's image
	// encoder and preprocessing), unrecorded (a file without conceptfreq's
	// metadata, such as one another tool wrote: not checked), or the
	// differences --allow_mismatch let through.
	Provenance string `json:"provenance"`
}

// NearRecord is what run_stats.json records about similarity control
// (config.image.near_duplicates).
type NearRecord struct {
	Files     []NearFile `json:"files"`
	Threshold float64    `json:"threshold"`
	Floor     float64    `json:"report_floor"`
	Dim       int        `json:"dimensions"`
	Search    string     `json:"search"` // exact cosine, ONNX Runtime MatMul on the run's device
}

// NearFiles splits the --near_duplicates value (comma-separated files).
func NearFiles(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// resolveNear checks the similarity-control request and reads the test
// embeddings (their hash, size and datasets) for the run record.
func (ic Config) resolveNear(ctx context.Context, read paths.ReadFunc, outputDim int) (Config, error) {
	files := NearFiles(ic.NearDuplicates)
	if len(files) == 0 {
		return ic, nil
	}
	if ic.ScoresDir != "" {
		return ic, fmt.Errorf("imagetag: --near_duplicates with a recount from saved scores: the saved scores hold no image embeddings; run the embedding tagger")
	}
	if ic.Tagger != tagging.Embedding {
		return ic, fmt.Errorf("imagetag: --near_duplicates compares image embeddings: it needs --tagger=embedding with a CLIP-style image encoder (--model) and --concept_embeddings, not the %s tagger", ic.Tagger)
	}
	if !(ic.NearThreshold > -1 && ic.NearThreshold <= 1) {
		return ic, fmt.Errorf("imagetag: --near_threshold=%v: want a cosine similarity in (-1, 1]", ic.NearThreshold)
	}
	if !(ic.NearFloor > -1 && ic.NearFloor <= ic.NearThreshold) {
		return ic, fmt.Errorf("imagetag: --near_floor=%v: want a cosine similarity in (-1, --near_threshold=%v]", ic.NearFloor, ic.NearThreshold)
	}
	rec := &NearRecord{Threshold: ic.NearThreshold, Floor: ic.NearFloor, Search: "exact cosine (ONNX Runtime MatMul, device " + ic.Device + ")"}
	for _, f := range files {
		nf := NearFile{Path: f, Datasets: map[string]int64{}}
		b, err := read(ctx, f)
		if errors.Is(err, ErrNotRead) {
			rec.Files = append(rec.Files, nf)
			continue
		}
		if err != nil {
			return ic, fmt.Errorf("imagetag: --near_duplicates: %w", err)
		}
		rows, err := tables.ReadTestEmbeddings(b, f, nil)
		if err != nil {
			return ic, fmt.Errorf("imagetag: --near_duplicates: %w", err)
		}
		if len(rows) == 0 {
			return ic, fmt.Errorf("imagetag: --near_duplicates: %s holds no test embeddings", f)
		}
		sum := sha256.Sum256(b)
		nf.SHA256, nf.Images = hex.EncodeToString(sum[:]), len(rows)
		if nf.Provenance, err = ic.checkTestProvenance(b, f); err != nil {
			return ic, err
		}
		for _, r := range rows {
			nf.Datasets[r.Dataset]++
			if rec.Dim == 0 {
				rec.Dim = len(r.Vector)
			}
			if len(r.Vector) != rec.Dim {
				return ic, fmt.Errorf("imagetag: --near_duplicates: %s: %s %s has %d dimensions, the test embeddings before it %d", f, r.Dataset, r.Key, len(r.Vector), rec.Dim)
			}
		}
		rec.Files = append(rec.Files, nf)
	}
	if outputDim > 0 && rec.Dim > 0 && outputDim != rec.Dim {
		return ic, fmt.Errorf("imagetag: --near_duplicates: model %s gives %d-dimensional image embeddings but the test embeddings have %d (embed the test sets with the same image encoder)", ic.Model, outputDim, rec.Dim)
	}
	ic.Near = rec
	return ic, nil
}

// checkTestProvenance compares what a test-embeddings file records about
// its image encoder and preprocessing (embed --images writes both) with
// the run's: a difference means a test image and its exact copy in the
// crawl get different embeddings, so it is an error naming both sides,
// unless AllowMismatch (then a warning, recorded).
func (ic *Config) checkTestProvenance(data []byte, path string) (string, error) {
	prov, err := tables.ReadProvenance(data, path)
	if err != nil {
		return "", fmt.Errorf("imagetag: --near_duplicates: %w", err)
	}
	model, specText := prov[tables.MetaImageModelSHA256], prov[tables.MetaImageSpec]
	if model == "" && specText == "" {
		ic.Warnings = append(ic.Warnings, fmt.Sprintf("--near_duplicates %s records no image encoder or preprocessing (not written by pipelines/embed --images): not checked against --model", path))
		return "unrecorded", nil
	}
	var diffs []string
	if model != "" && ic.ModelSHA256 != "" && model != ic.ModelSHA256 {
		diffs = append(diffs, fmt.Sprintf("image encoder sha256 %s (--model %s: %s)", short(model), ic.Model, short(ic.ModelSHA256)))
	}
	if specText != "" {
		spec, err := preprocess.ParseSpec(specText)
		if err != nil {
			return "", fmt.Errorf("imagetag: --near_duplicates %s: %w", path, err)
		}
		diffs = append(diffs, spec.Diff(ic.Spec())...)
	}
	if len(diffs) == 0 {
		return "same", nil
	}
	msg := fmt.Sprintf("--near_duplicates %s was embedded with another image encoder or preprocessing than this run (file ≠ run: %s)",
		path, strings.Join(diffs, "; "))
	if !ic.AllowMismatch {
		return "", fmt.Errorf("imagetag: %s: exact copies of test images would not be found; embed the test set with the same --model and preprocessing flags, or pass --allow_mismatch", msg)
	}
	ic.Warnings = append(ic.Warnings, msg+" (--allow_mismatch)")
	return "mismatch allowed: " + strings.Join(diffs, "; "), nil
}

// nearEntry is a process's index and searcher of one set of test
// embeddings on one device, shared by every worker in the process
// (ORTSearcher is safe for concurrent use).
type nearEntry struct {
	key      string
	refs     int
	index    *neardup.Index
	searcher *neardup.ORTSearcher
}

// nearCache is the process's test-embedding indexes and searchers.
type nearCache struct {
	mu      sync.Mutex
	entries map[string]*nearEntry
}

var nearShared = &nearCache{entries: map[string]*nearEntry{}}

// openNear loads the test embeddings named in c.Near into an index and
// opens its searcher, or takes the process's for the same files (by hash)
// and device; release gives it back.
func (c Config) openNear(ctx context.Context, read paths.ReadFunc) (*neardup.Index, neardup.Searcher, func() error, error) {
	var hashes []string
	for _, f := range c.Near.Files {
		hashes = append(hashes, f.Path+"@"+f.SHA256)
	}
	key := strings.Join(hashes, ",") + "|" + c.Device + "|" + c.OrtLib
	return nearShared.get(key, func() (*nearEntry, error) { return c.loadNear(ctx, read) })
}

// get returns the entry for key, built by load when the process has none,
// and the function that gives it back (the last one closes its searcher).
func (nc *nearCache) get(key string, load func() (*nearEntry, error)) (*neardup.Index, neardup.Searcher, func() error, error) {
	nc.mu.Lock()
	defer nc.mu.Unlock()
	e := nc.entries[key]
	if e == nil {
		var err error
		if e, err = load(); err != nil {
			return nil, nil, nil, err
		}
		e.key = key
		nc.entries[key] = e
	}
	e.refs++
	release := sync.OnceValue(func() error {
		nc.mu.Lock()
		defer nc.mu.Unlock()
		e.refs--
		if e.refs > 0 {
			return nil
		}
		delete(nc.entries, e.key)
		return e.searcher.Close()
	})
	return e.index, e.searcher, release, nil
}

// loadNear reads the test embeddings named in c.Near into an index and
// opens its searcher.
func (c Config) loadNear(ctx context.Context, read paths.ReadFunc) (*nearEntry, error) {
	x := &neardup.Index{}
	for _, f := range c.Near.Files {
		b, err := read(ctx, f.Path)
		if err != nil {
			return nil, fmt.Errorf("imagetag: --near_duplicates: %w", err)
		}
		if f.SHA256 != "" {
			if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != f.SHA256 {
				return nil, fmt.Errorf("imagetag: --near_duplicates: %s changed since the run was launched (sha256 %x, launched with %s)", f.Path, sum, f.SHA256)
			}
		}
		rows, err := tables.ReadTestEmbeddings(b, f.Path, nil)
		if err != nil {
			return nil, fmt.Errorf("imagetag: --near_duplicates: %w", err)
		}
		for _, r := range rows {
			if err := x.Add(r.Dataset, r.Key, r.Label, r.Vector); err != nil {
				return nil, fmt.Errorf("imagetag: --near_duplicates: %s: %w", f.Path, err)
			}
		}
	}
	s, err := neardup.NewORTSearcher(x, 0, ort.Options{LibPath: ort.ResolveLib(c.OrtLib), Device: c.Device, IntraOpThreads: c.IntraOpThreads})
	if err != nil {
		return nil, err
	}
	return &nearEntry{index: x, searcher: s}, nil
}
