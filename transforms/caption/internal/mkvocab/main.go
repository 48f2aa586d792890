// Command mkvocab writes the default concept vocabulary from the study's
// released search counts: the keys of every
// <dataset>_cc3m_lemmatized_search_counts.json, in file-name then file order,
// de-duplicated after normalisation (the first spelling wins).
//
//	go run ./transforms/caption/internal/mkvocab -paper ../shared/data/paper > transforms/caption/default_concepts.txt
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

	"github.com/conceptfreq/conceptfreq/transforms/caption"
)

func main() {
	paper := flag.String("paper", "../shared/data/paper", "the study's released data directory")
	flag.Parse()
	files, err := filepath.Glob(filepath.Join(*paper, "search_counts", "*_cc3m_lemmatized_search_counts.json"))
	if err != nil || len(files) == 0 {
		log.Fatalf("mkvocab: no *_cc3m_lemmatized_search_counts.json under %s/search_counts (%v)", *paper, err)
	}
	sort.Strings(files)
	lem, err := caption.English()
	if err != nil {
		log.Fatal(err)
	}
	seen := map[string]bool{}
	fmt.Println("# Default conceptfreq vocabulary: the downstream class names of arXiv 2404.04125,")
	fmt.Println("# the keys of its search_counts/*_cc3m_lemmatized_search_counts.json (MIT licence,")
	fmt.Println("# bethgelab/frequency_determines_performance), de-duplicated after lemmatisation.")
	fmt.Println("# Made by: go run ./transforms/caption/internal/mkvocab -paper ../shared/data/paper")
	n := 0
	for _, f := range files {
		keys, err := orderedKeys(f)
		if err != nil {
			log.Fatalf("mkvocab: %s: %v", f, err)
		}
		for _, k := range keys {
			k = strings.TrimSpace(k)
			norm := caption.NormalizeConcept(lem, k)
			if norm == "" || seen[norm] || strings.HasPrefix(k, "#") || strings.ContainsAny(k, "\t\n") {
				continue
			}
			seen[norm] = true
			fmt.Println(k)
			n++
		}
	}
	log.Printf("mkvocab: %d concepts from %d files", n, len(files))
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
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, t.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}
