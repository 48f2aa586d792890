// Command mkvocab writes conceptfreq's embedded vocabularies from the
// study's released search counts (arXiv 2404.04125,
// bethgelab/frequency_determines_performance, MIT):
//
//   - default_concepts.txt: every distinct class-name string of the
//     study's classification datasets (the 18 it fits plus imagenet-r), as
//     spelled in its matched-count files <dataset>_*_integrated_tlemmatized_i0.7_search_counts.json,
//     datasets in the study's order, keys in file order, exact repeats once;
//
//   - retrieval_concepts.txt: the caption words of its coco and flickr
//     retrieval lists (the keys of their *_search_counts.json files).
//
//     go run ./transforms/caption/internal/mkvocab -paper ../shared/data/paper -out transforms/caption
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// classification are the study's 18 fitted datasets plus imagenet-r.
var classification = []string{"imagenet", "cifar10", "cifar100", "caltech101", "caltech256", "sun397", "birdsnap",
	"country211", "cub", "dtd", "eurosat", "fgvcaircraft", "flowers102", "food101", "imagenet-sketch", "oxfordpets",
	"stanfordcars", "ucf101", "imagenet-r"}

func main() {
	paper := flag.String("paper", "../shared/data/paper", "the study's released data directory")
	out := flag.String("out", "transforms/caption", "directory for default_concepts.txt and retrieval_concepts.txt")
	flag.Parse()
	var classes []string
	for _, ds := range classification {
		classes = append(classes, keys(*paper, ds+"_*_integrated_tlemmatized_i0.7_search_counts.json")...)
	}
	write(filepath.Join(*out, "default_concepts.txt"), distinct(classes), []string{
		"Default conceptfreq vocabulary: every distinct class-name string of the classification datasets of",
		"arXiv 2404.04125 (the 18 it fits plus imagenet-r), spelled as in its matched-count files",
		"<dataset>_*_integrated_tlemmatized_i0.7_search_counts.json (MIT licence, bethgelab/frequency_determines_performance).",
		"Spellings that normalise alike (American coot / American_Coot) keep their own rows.",
	})
	var words []string
	for _, ds := range []string{"coco", "flickr"} {
		words = append(words, keys(*paper, ds+"_*_search_counts.json")...)
	}
	write(filepath.Join(*out, "retrieval_concepts.txt"), distinct(words), []string{
		"conceptfreq vocabulary embedded:study-retrieval: the caption words of the coco and flickr retrieval",
		"lists of arXiv 2404.04125 (the keys of its coco_*/flickr_*_search_counts.json, MIT licence).",
		"They include function words (on, can, t, one, time) that top any caption count.",
	})
}

func keys(paper, pattern string) []string {
	files, err := filepath.Glob(filepath.Join(paper, "search_counts", pattern))
	if err != nil || len(files) == 0 {
		log.Fatalf("mkvocab: no %s under %s/search_counts (%v)", pattern, paper, err)
	}
	sort.Strings(files)
	var out []string
	for _, f := range files {
		k, err := orderedKeys(f)
		if err != nil {
			log.Fatalf("mkvocab: %s: %v", f, err)
		}
		out = append(out, k...)
	}
	return out
}

// distinct keeps the first of exact repeats, and drops what a vocabulary
// line cannot hold.
func distinct(names []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if n = strings.TrimSpace(n); n == "" || seen[n] || strings.HasPrefix(n, "#") || strings.ContainsAny(n, "\t\n") {
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	return out
}

func write(path string, names, header []string) {
	var b strings.Builder
	for _, h := range header {
		b.WriteString("# " + h + "\n")
	}
	b.WriteString("# Made by: go run ./transforms/caption/internal/mkvocab -paper ../shared/data/paper -out transforms/caption\n")
	for _, n := range names {
		b.WriteString(n + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("mkvocab: %s: %d concepts", path, len(names))
}

func orderedKeys(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("want a JSON object (%v)", err)
	}
	var out []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		out = append(out, t.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return out, nil
}
