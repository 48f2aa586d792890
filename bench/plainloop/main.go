// Command plainloop does the count job's text work without Beam: one
// concept.Processor per core over the same input files, each file read whole
// by one goroutine, tallies merged at the end. bench/count.sh runs it beside
// the pipeline to measure what the Beam layer (prism) costs.
//
//	go run ./bench/plainloop --input='/tmp/pq/*.parquet' [--match=all-words] [--pos=none]
//
// It prints one JSON line: samples, seconds, samples_per_s, workers.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/conceptfreq/conceptfreq/transforms/concept"
	"io"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/conceptfreq/conceptfreq/io/tables"
	"github.com/conceptfreq/conceptfreq/transforms/caption"
)

var (
	input   = flag.String("input", "", "glob of input files (local)")
	match   = flag.String("match", "all-words", "match rule: all-words, phrase or study")
	pos     = flag.String("pos", "none", "POS filter: none or nouns")
	workers = flag.Int("workers", runtime.GOMAXPROCS(0), "goroutines, one Processor each")
	cpuprof = flag.String("cpuprofile", "", "write a CPU profile of the loop to this file")
)

func main() {
	flag.Parse()
	files, err := filepath.Glob(*input)
	if err != nil || len(files) == 0 {
		log.Fatalf("plainloop: --input=%q matches no file (%v)", *input, err)
	}
	rule, err := caption.ParseRule(*match)
	if err != nil {
		log.Fatal(err)
	}
	p, err := caption.ParsePOS(*pos)
	if err != nil {
		log.Fatal(err)
	}
	v, err := caption.DefaultVocabulary()
	if err != nil {
		log.Fatal(err)
	}
	lem, err := caption.English()
	if err != nil {
		log.Fatal(err)
	}
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	var (
		mu      sync.Mutex
		total   concept.Stats
		wg      sync.WaitGroup
		firstEr error
	)
	work := make(chan string)
	open := func(ctx context.Context, path string) (io.ReadCloser, error) { return os.Open(path) }
	for w := 0; w < *workers; w++ {
		// Each worker builds its own matcher, as each Beam worker's DoFn does.
		proc := &concept.Processor{}
		if err := proc.SetRule(v, lem, rule, p); err != nil {
			log.Fatal(err)
		}
		counts := concept.NewCounts(len(v.Concepts))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				st, err := proc.ProcessShard(context.Background(), open, f, counts, concept.Emitters{Reject: func(tables.Reject) {}})
				mu.Lock()
				total.Merge(st)
				if err != nil && firstEr == nil {
					firstEr = err
				}
				mu.Unlock()
			}
		}()
	}
	for _, f := range files {
		work <- f
	}
	close(work)
	wg.Wait()
	if firstEr != nil {
		log.Fatal(firstEr)
	}
	secs := time.Since(start).Seconds()
	out, _ := json.Marshal(map[string]any{"samples": total.SamplesRead, "seconds": secs,
		"samples_per_s": float64(total.SamplesRead) / secs, "workers": *workers})
	fmt.Println(string(out))
}
