// Command mkmodels writes conceptfreq's test models into a directory:
//
//		go run ./models/onnxbuild/mkmodels -out testdata/models
//
//	  - colour_tagger.onnx: image[N,3,H,W] → GlobalAveragePool → Flatten →
//	    MatMul W[3,4] → Sigmoid → scores[N,4] over red, green, blue, magenta
//	    (labels also in colour_tagger.labels.txt and the model metadata);
//	  - colour_embedder.onnx: the same without the Sigmoid, W = I₃, giving
//	    3-d "embeddings" (the mean normalised colour);
//	  - colour_concepts.parquet: concept embeddings for red, green and blue,
//	    the embedder's output for a pure-colour image;
//	  - colour_text.onnx: a CLIP-style text encoder (int64 tokens [N,77] →
//	    Gather → ReduceMean → [N,3]) whose colour-word tokens (red, green,
//	    blue, purple and the other words of onnxbuild.PlantedColours; CLIP BPE ids
//	    from -bpe) embed as those colours, so with
//	    colour_embedder.onnx as the image encoder it is a planted "CLIP".
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/models/clip"
	"github.com/conceptfreq/conceptfreq/models/onnxbuild"
	"github.com/conceptfreq/conceptfreq/models/tagging"
)

// ColourLabels are the tagger's output columns.
var ColourLabels = []string{"red", "green", "blue", "magenta"}

func main() {
	out := flag.String("out", "testdata/models", "output directory")
	bpe := flag.String("bpe", "testdata/clip/bpe_simple_vocab_16e6.txt.gz", "CLIP BPE merges file, for colour_text.onnx's token ids")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	// The models ask (in their metadata) for mean 0.5 and std 0.5, so a pure
	// red image pools to (1, -1, -1): the weights (4,-2,-2) give it logit 8
	// for red and -4 for green and blue, while white (1,1,1), black and grey
	// images give logit 0 (score 0.5) for every colour, below the 0.7
	// threshold. Magenta has zero weights: score 0.5, never tagged.
	w := [3][]float32{
		{4, -2, -2, 0},
		{-2, 4, -2, 0},
		{-2, -2, 4, 0},
	}
	meta := map[string]string{
		tagging.MetaLabels:    strings.Join(ColourLabels, "\n"),
		tagging.MetaOutput:    "probabilities",
		tagging.MetaInputSize: "32",
		tagging.MetaMean:      "0.5,0.5,0.5",
		tagging.MetaStd:       "0.5,0.5,0.5",
	}
	write(*out, "colour_tagger.onnx", onnxbuild.PoolLinear("colour_tagger", "scores", w, true, meta).Marshal())
	write(*out, "colour_tagger.labels.txt", []byte("# output columns of colour_tagger.onnx\n"+strings.Join(ColourLabels, "\n")+"\n"))
	eye := [3][]float32{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}
	write(*out, "colour_embedder.onnx", onnxbuild.PoolLinear("colour_embedder", "embedding", eye, false,
		map[string]string{tagging.MetaInputSize: "32", tagging.MetaMean: "0.5,0.5,0.5", tagging.MetaStd: "0.5,0.5,0.5"}).Marshal())
	var concepts []string
	var embs [][]float32
	for i, name := range []string{"red", "green", "blue"} {
		var e []float32
		for c := 0; c < 3; c++ {
			v := float32(0)
			if c == i {
				v = 1
			}
			e = append(e, (v-0.5)/0.5)
		}
		concepts, embs = append(concepts, name), append(embs, e)
	}
	var b bytes.Buffer
	if err := tables.WriteConceptEmbeddings(&b, concepts, embs, nil, nil); err != nil {
		log.Fatal(err)
	}
	write(*out, "colour_concepts.parquet", b.Bytes())

	f, err := os.Open(*bpe)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	tok, err := clip.LoadTokenizer(f)
	if err != nil {
		log.Fatal(err)
	}
	text, err := ColourText(tok)
	if err != nil {
		log.Fatal(err)
	}
	write(*out, "colour_text.onnx", text.Marshal())
}

// ColourText builds colour_text.onnx for the tokenizer's vocabulary.
func ColourText(tok *clip.Tokenizer) (*onnxbuild.Model, error) {
	colours := map[int32][3]float32{}
	for word, rgb := range onnxbuild.PlantedColours {
		v := onnxbuild.ColourVector(rgb)
		ids := tok.Encode(word)
		if len(ids) != 1 {
			return nil, fmt.Errorf("%q is %d tokens, want 1", word, len(ids))
		}
		colours[ids[0]] = v
	}
	return onnxbuild.ColourTextEncoder(clip.VocabSize, colours, []int32{tok.SOT(), tok.EOT()}), nil
}

func write(dir, name string, data []byte) {
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		log.Fatal(err)
	}
}
