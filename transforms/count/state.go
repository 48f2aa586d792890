package count

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/conceptfreq/conceptfreq/transforms/concept"
	"io"

	"github.com/conceptfreq/conceptfreq/io/beamfs"
	"github.com/conceptfreq/conceptfreq/io/paths"
	"github.com/conceptfreq/conceptfreq/io/tables"
)

// A --state directory keeps one partial result per processed shard, under
// a folder named by the fingerprint of everything that changes counts, so
// a later run over a grown (or the same) input set processes only the
// shards without a partial and merges the rest:
//
//	STATE/<fingerprint>/fingerprint.json          what the fingerprint stands for
//	STATE/<fingerprint>/<hash of shard identity>.partial
//
// A shard's identity is its path, size and modification time (beamfs.Identity),
// so a shard whose bytes changed is processed again; a partial is written
// atomically (temporary name, then rename; a single object write on gs://),
// so a run killed at any point leaves whole partials or none.

// PartialVersion changes when the partial encoding does. Version 2 wraps
// the partial in an envelope that says whose it is and checks its bytes.
const PartialVersion = 2

// partialMagic starts every partial file of this version.
const partialMagic = "conceptfreq partial v2\n"

// Fingerprint hashes what changes counts: the run record without the
// inputs and runner (vocabulary hash, match rule, POS mode, lemmatiser,
// caption ext/column, image tagger, model, labels, threshold,
// preprocessing, emitted outputs, similarity control's threshold and
// floor and its test embeddings' sha256) and what the image side reads:
// the sha256 of the model, labels and concept embeddings, and the identity
// (path, size, time) of the saved scores' run_stats.json.
func (c Config) Fingerprint(ctx context.Context) (string, []byte, error) {
	rc := c.Record("")
	rc.Inputs, rc.Runner, rc.PartialsDir, rc.MaxRejectFraction = nil, "", "", 0 // the limit judges a run, it changes no count
	doc := struct {
		Version int               `json:"partial_version"`
		Record  RunConfig         `json:"config"`
		Files   map[string]string `json:"files,omitempty"`
	}{Version: PartialVersion, Record: rc, Files: map[string]string{}}
	for _, p := range []string{c.Image.Model, c.Image.Labels, c.Image.ConceptEmbeddings} {
		if p == "" {
			continue
		}
		sum, err := contentHash(ctx, p)
		if err != nil {
			return "", nil, fmt.Errorf("count: --state: %w", err)
		}
		doc.Files[p] = sum
	}
	if c.Image.ScoresDir != "" {
		id, err := beamfs.Identity(ctx, paths.Join(c.Image.ScoresDir, tables.RunStatsFile))
		if err != nil {
			return "", nil, fmt.Errorf("count: --state: %w", err)
		}
		doc.Files[c.Image.ScoresDir] = hex.EncodeToString(sha256Of(id))
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return "", nil, err
	}
	return hex.EncodeToString(sha256Of(string(b)))[:24], b, nil
}

// contentHash is the sha256 of a file's bytes, streamed.
func contentHash(ctx context.Context, path string) (string, error) {
	rc, err := beamfs.Open(ctx, path)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func sha256Of(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// partial is what one shard contributed to a run.
type partial struct {
	Counts  map[string]concept.Tally
	Stats   concept.Stats
	Rejects []tables.Reject
	Scores  []tables.ScoreRow
	Samples []tables.SampleRow
	Near    []tables.NearRow
}

// partialPath is where the partial of a shard version lives in dir (the
// fingerprint folder).
func partialPath(dir, identity string) string {
	return paths.Join(dir, hex.EncodeToString(sha256Of(identity))[:32]+".partial")
}

// partialEnvelope is a partial file after its magic line: the shard and
// the fingerprint the partial was made for, and its bytes' checksum. A
// partial is trusted only when all of them match (decodePartial).
type partialEnvelope struct {
	Version     int
	Shard       string // the shard's path
	Identity    string // its identity when it was counted (path, size, time)
	Fingerprint string // the fingerprint folder it was made under
	Sum         []byte // sha256 of Body
	Body        []byte // the gob of the partial
}

// encodePartial writes p as the partial of the shard with that identity,
// made under fingerprint.
func encodePartial(w io.Writer, p *partial, shard, identity, fingerprint string) error {
	var body bytes.Buffer
	if err := gob.NewEncoder(&body).Encode(p); err != nil {
		return err
	}
	sum := sha256.Sum256(body.Bytes())
	if _, err := io.WriteString(w, partialMagic); err != nil {
		return err
	}
	return gob.NewEncoder(w).Encode(partialEnvelope{Version: PartialVersion, Shard: shard, Identity: identity,
		Fingerprint: fingerprint, Sum: sum[:], Body: body.Bytes()})
}

// decodePartial reads a partial file and checks that it is whole and is
// the partial of the shard with that identity under fingerprint: a file
// of another format or version, a truncated or altered one, or another
// shard's partial under this name is an error (the caller recounts).
func decodePartial(b []byte, identity, fingerprint string) (*partial, error) {
	if !bytes.HasPrefix(b, []byte(partialMagic)) {
		return nil, fmt.Errorf("not a version-%d partial", PartialVersion)
	}
	var env partialEnvelope
	if err := gob.NewDecoder(bytes.NewReader(b[len(partialMagic):])).Decode(&env); err != nil {
		return nil, fmt.Errorf("unreadable: %w", err)
	}
	sum := sha256.Sum256(env.Body)
	switch {
	case env.Version != PartialVersion:
		return nil, fmt.Errorf("version %d, want %d", env.Version, PartialVersion)
	case !bytes.Equal(env.Sum, sum[:]):
		return nil, fmt.Errorf("its checksum does not match its content")
	case env.Identity != identity:
		return nil, fmt.Errorf("it is the partial of %s, not of this shard version", env.Identity)
	case env.Fingerprint != fingerprint:
		return nil, fmt.Errorf("it was made under fingerprint %s, not %s", env.Fingerprint, fingerprint)
	}
	var p partial
	if err := gob.NewDecoder(bytes.NewReader(env.Body)).Decode(&p); err != nil {
		return nil, fmt.Errorf("unreadable content: %w", err)
	}
	return &p, nil
}

// WithState returns c keeping per-shard partials under the state
// directory dir (--state; local or gs://), in the folder of c's
// fingerprint (PartialsDir), and writes fingerprint.json there to say what
// the folder stands for.
func (c Config) WithState(ctx context.Context, dir string) (Config, error) {
	fp, doc, err := c.Fingerprint(ctx)
	if err != nil {
		return c, err
	}
	c.PartialsDir = paths.Join(dir, fp)
	if err := beamfs.WriteAtomic(ctx, paths.Join(c.PartialsDir, "fingerprint.json"), func(w io.Writer) error {
		_, err := w.Write(doc)
		return err
	}); err != nil {
		return c, fmt.Errorf("count: --state: %w", err)
	}
	return c, nil
}
