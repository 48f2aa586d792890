package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conceptfreq/conceptfreq/internal/flagtest"
	"github.com/conceptfreq/conceptfreq/internal/shareddata"
	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/models/ort/orttest"
)

func TestPrintTokens(t *testing.T) {
	bpePath := shareddata.Path(t, "clip/bpe_simple_vocab_16e6.txt.gz")
	texts := filepath.Join(t.TempDir(), "texts.txt")
	if err := os.WriteFile(texts, []byte("a photo of a dog.\n\na cat\r\n"+strings.Repeat("dog ", 100)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	flagtest.Set(t, "--bpe="+bpePath, "--print_tokens", "--texts="+texts)
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d output lines, want one per input line (4):\n%s", len(lines), out.String())
	}
	for i, want := range []string{"49406 320 1125 539 320 1929 269 49407", "49406 49407", "49406 320 2368 49407"} {
		if lines[i] != want {
			t.Errorf("line %d: got %q, want %q", i+1, lines[i], want)
		}
	}
	if n := len(strings.Fields(lines[3])); n != 102 {
		t.Errorf("100 dogs: %d tokens, want 102 (no truncation)", n)
	}
}

// Concept names through the planted colour text encoder: each colour's
// embedding points at its colour, for every prompt set, and the file is
// what the embedding tagger reads.
func TestEmbedColours(t *testing.T) {
	orttest.Lib(t)
	bpePath := shareddata.Path(t, "clip/bpe_simple_vocab_16e6.txt.gz")
	dir := t.TempDir()
	vocab := filepath.Join(dir, "colours.txt")
	if err := os.WriteFile(vocab, []byte("red\ngreen\nblue\npurple\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := map[string][3]float64{"red": {1, -1, -1}, "green": {-1, 1, -1}, "blue": {-1, -1, 1}, "purple": {1, -1, 1}}
	for _, set := range []string{"class", "simple", "ensemble"} {
		outPath := filepath.Join(dir, set+".parquet")
		flagtest.Set(t, "--bpe="+bpePath, "--text_model=../../testdata/models/colour_text.onnx", "--concepts="+vocab,
			"--prompts="+set, "--output="+outPath)
		var out bytes.Buffer
		if err := run(context.Background(), &out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "4 concepts") {
			t.Errorf("summary: %s", out.String())
		}
		b, err := os.ReadFile(outPath)
		if err != nil {
			t.Fatal(err)
		}
		names, embs, err := tables.ReadConceptEmbeddings(b, outPath, nil)
		if err != nil || len(names) != 4 {
			t.Fatalf("%s: %v %v", set, names, err)
		}
		for i, n := range names {
			w := want[n]
			dot, ne, nw := 0.0, 0.0, 0.0
			for j := range w {
				dot += float64(embs[i][j]) * w[j]
				ne += float64(embs[i][j]) * float64(embs[i][j])
				nw += w[j] * w[j]
			}
			if math.Abs(ne-1) > 1e-5 {
				t.Errorf("%s/%s: norm² %v, want 1", set, n, ne)
			}
			if cos := dot / math.Sqrt(ne*nw); cos < 0.99 {
				t.Errorf("%s/%s: cosine with its colour %v, want > 0.99", set, n, cos)
			}
		}
		// A second run refuses to replace the file.
		flagtest.Set(t, "--output="+outPath)
		if err := run(context.Background(), &out); err == nil || !strings.Contains(err.Error(), "--overwrite") {
			t.Errorf("existing output: got %v", err)
		}
	}
}
