package tables

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet/file"
)

// Provenance is what made an output file, written as the Parquet file's
// key-value metadata (docs/outputs.md lists the keys): the tool's version
// and commit, and the sha256 and resolved settings of whatever the rows
// were computed with. A command that reads such a file checks it against
// what it is about to do. Keys absent from a file (one written by another
// tool or an older version) are unknown, not "the same".
type Provenance map[string]string

// Provenance keys.
const (
	MetaVersion          = "conceptfreq.version"            // the tool's version and commit, as --version prints it
	MetaImageModelSHA256 = "conceptfreq.image_model_sha256" // the image encoder the rows were computed with
	MetaImageSpec        = "conceptfreq.image_spec"         // its preprocessing (preprocess.Spec as JSON)
	MetaTextModelSHA256  = "conceptfreq.text_model_sha256"  // the text encoder
	MetaPrompts          = "conceptfreq.prompts"            // the prompt set(s) of text embeddings
	MetaBPESHA256        = "conceptfreq.bpe_sha256"         // CLIP's merges file
	// MetaPairedImageModelSHA256 is, in concept embeddings, the image
	// encoder they were made for (embed --image_model): the count job's
	// embedding tagger refuses another.
	MetaPairedImageModelSHA256 = "conceptfreq.paired_image_model_sha256"
)

// schema is s with p as its metadata (the Parquet file's key-value
// metadata once written by pqarrow), keys sorted so that files are
// byte-identical run to run.
func (p Provenance) schema(s *arrow.Schema) *arrow.Schema {
	if len(p) == 0 {
		return s
	}
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	vals := make([]string, len(keys))
	for i, k := range keys {
		vals[i] = p[k]
	}
	md := arrow.NewMetadata(keys, vals)
	return arrow.NewSchema(s.Fields(), &md)
}

// ReadProvenance reads the conceptfreq.* key-value metadata of a Parquet
// file (empty for a file without any, such as one DuckDB wrote).
func ReadProvenance(data []byte, name string) (Provenance, error) {
	r, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("tables: %s: %w", name, err)
	}
	defer r.Close()
	p := Provenance{}
	md := r.MetaData().KeyValueMetadata()
	for i, k := range md.Keys() {
		if len(k) > len("conceptfreq.") && k[:len("conceptfreq.")] == "conceptfreq." {
			p[k] = md.Values()[i]
		}
	}
	return p, nil
}
