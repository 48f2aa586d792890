# conceptfreq — run `make run` for the main job on the bundled data, `make test` for all tests.
GO       ?= go
# --version names the commit: Go embeds it in builds of a checkout (go build); go run
# does not, so the Makefile passes it too.
COMMIT   := $(shell git rev-parse --short=12 HEAD 2>/dev/null)
LDFLAGS  := -ldflags=-X=github.com/conceptfreq/conceptfreq/internal/cli.Commit=$(COMMIT)
NODE_DIR := .cache/node
DUCKDB_NODE_API := @duckdb/node-api@1.5.6-r.1
DUCKDB_STAMP := $(NODE_DIR)/node_modules/@duckdb/node-api/package.json
ORT_LIB  := .cache/onnxruntime/libonnxruntime.so.1

.PHONY: run run-fit crawl-to-law screenshots test deps ort browser lint build nocgo worker models bench gpu-check turbojpeg fuzz vocab clean

## run: count concepts in the bundled shards (testdata/shards: 1,000 real LAION captions) → ./out, print a summary.
## Text only: it needs Go, nothing else (image tagging needs ONNX Runtime: make ort).
run:
	$(GO) run $(LDFLAGS) ./pipelines/count --overwrite

## run-fit: reproduce the study's fits from ../shared/data/paper → out/fit (report.html, plots, Parquet)
PAPER ?= ../shared/data/paper
run-fit:
	$(GO) run $(LDFLAGS) ./pipelines/fit --paper=$(PAPER) --output=out/fit --overwrite

## crawl-to-law: synth → embed → count → eval → fit on the planted colour set and the planted colour "CLIP" → out/chain;
## the count under similarity control (the eval images embedded, the crawl's copies of them left out of the _dissimilar
## counts) and the fit refitted on them → out/chain/fit-dissimilar;
## then retrieval: concepts → count → eval --task=retrieval → fit → out/chain/fit-retrieval
BPE ?= testdata/clip/bpe_simple_vocab_16e6.txt.gz
crawl-to-law: ort
	$(GO) run $(LDFLAGS) ./pipelines/synth --colour_law --output=out/chain/data --overwrite
	$(GO) run $(LDFLAGS) ./pipelines/embed --bpe=$(BPE) --text_model=testdata/models/colour_text.onnx \
	    --concepts=out/chain/data/classes.txt --prompts=class --output=out/chain/concept_embeddings.parquet --overwrite
	$(GO) run $(LDFLAGS) ./pipelines/embed --images=out/chain/data/eval --dataset=colours \
	    --image_model=testdata/models/colour_embedder.onnx --output=out/chain/test_embeddings.parquet --overwrite
	$(GO) run $(LDFLAGS) ./pipelines/count --input=out/chain/data/crawl --concepts=out/chain/data/classes.txt --tagger=embedding \
	    --model=testdata/models/colour_embedder.onnx --concept_embeddings=out/chain/concept_embeddings.parquet \
	    --near_duplicates=out/chain/test_embeddings.parquet --output=out/chain/counts --overwrite
	$(GO) run $(LDFLAGS) ./pipelines/eval --input=out/chain/data/eval --classes=out/chain/data/classes.txt \
	    --image_model=testdata/models/colour_embedder.onnx --text_model=testdata/models/colour_text.onnx --bpe=$(BPE) \
	    --model=colourCLIP --pretraining=colourcrawl --dataset=colours --output=out/chain/eval --overwrite
	$(GO) run $(LDFLAGS) ./pipelines/fit --counts=out/chain/counts/concept_counts.parquet \
	    --performance=out/chain/eval/performance.parquet --output=out/chain/fit --overwrite
	# the same fit without the crawl's near-duplicates of the evaluation images
	$(GO) run $(LDFLAGS) ./pipelines/fit --counts=out/chain/counts/concept_counts.parquet --count_kind=matched_dissimilar \
	    --performance=out/chain/eval/performance.parquet --output=out/chain/fit-dissimilar --overwrite
	# retrieval: the planted retrieval set's concepts counted in the bundled LAION shards, its recall, the fit
	$(GO) run $(LDFLAGS) ./pipelines/synth --colour_retrieval --output=out/chain/retrieval-set --overwrite
	$(GO) run $(LDFLAGS) ./pipelines/eval --task=concepts --input=out/chain/retrieval-set --min_images=2 \
	    --output=out/chain/retrieval-concepts --overwrite
	$(GO) run $(LDFLAGS) ./pipelines/count --concepts=out/chain/retrieval-concepts/concepts.txt \
	    --output=out/chain/retrieval-counts --overwrite
	$(GO) run $(LDFLAGS) ./pipelines/eval --task=retrieval --input=out/chain/retrieval-set --min_images=2 \
	    --image_model=testdata/models/colour_embedder.onnx --text_model=testdata/models/colour_text.onnx --bpe=$(BPE) \
	    --model=colourCLIP --pretraining=colourcrawl --dataset=colourcaps --output=out/chain/eval-retrieval --overwrite
	$(GO) run $(LDFLAGS) ./pipelines/fit --counts=out/chain/retrieval-counts/concept_counts.parquet \
	    --performance=out/chain/eval-retrieval/performance.parquet --output=out/chain/fit-retrieval --overwrite

## screenshots: regenerate docs/img/{fit,count}-report.png (the README's) in headless Chromium
screenshots:
	bash docs/screenshots.sh

## test: install test dependencies, check formatting/vet/go.mod/CGO_ENABLED=0 build, run all tests.
## Tests that need ../shared/data, DuckDB or ONNX Runtime fail (not skip) here when those are missing.
test: deps lint
	CONCEPTFREQ_REQUIRE_SHARED=1 CONCEPTFREQ_REQUIRE_DUCKDB=1 CONCEPTFREQ_REQUIRE_ORT=1 CONCEPTFREQ_REQUIRE_BROWSER=1 CONCEPTFREQ_REQUIRE_TURBOJPEG=1 CONCEPTFREQ_ORT_LIB=$(CURDIR)/$(ORT_LIB) $(GO) test -count=1 ./...
	CGO_ENABLED=0 $(GO) test -count=1 ./models/ort/ ./models/preprocess/

## deps: DuckDB for Node (interop test reader), the ONNX Runtime library (cached under .cache/)
## and headless Chromium (Debian's chromium, for the report tests)
deps: $(DUCKDB_STAMP) ort browser turbojpeg

## turbojpeg: Debian's libturbojpeg0 (libjpeg-turbo's TurboJPEG library, the native image decoder), when missing (needs root, as on CI)
turbojpeg:
	@ldconfig -p | grep -q 'libturbojpeg.so.0 ' || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libturbojpeg0 >/dev/null; }

## browser: Debian's chromium and Liberation fonts, when missing (needs root, as on CI)
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null; }

## ort: ONNX Runtime 1.30 (CPU) from npm onnxruntime-node@1.30.0, sha256-checked, into .cache/onnxruntime
ort:
	bash models/install_ort.sh

$(DUCKDB_STAMP):
	mkdir -p $(NODE_DIR)
	cd $(NODE_DIR) && npm install --no-audit --no-fund --loglevel=error $(DUCKDB_NODE_API)

## lint: gofmt, go vet, a tidy go.mod, and the CGO_ENABLED=0 build
lint:
	@unformatted="$$(gofmt -l .)"; if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod/go.sum are not tidy: run go mod tidy"; $(GO) mod tidy -diff; exit 1; }
	$(MAKE) nocgo

## nocgo: the text-only build must work without cgo (Dataflow's launcher cross-compiles that way)
nocgo:
	CGO_ENABLED=0 $(GO) build ./...

## build: all commands into bin/
build:
	$(GO) build $(LDFLAGS) -o bin/ ./pipelines/...

## worker: the cgo worker binary for Dataflow GPU workers (linux/amd64), see runners/Dockerfile
worker:
	CGO_ENABLED=1 GOOS=linux GOARCH=amd64 $(GO) build -o bin/count-worker ./pipelines/count

## models: regenerate the ONNX test models in testdata/models
models:
	$(GO) run ./models/onnxbuild/mkmodels -out testdata/models

## bench: the README's Performance table, every row beside its reference (see bench/README.md)
bench:
	bash bench/count.sh
	bash bench/near.sh
	bash bench/rss.sh

## gpu-check: ONNX Runtime's CUDA build (npm, sha256-checked) and a RAM++-sized graph; on a GPU, counts on the GPU vs the CPU and images/s by batch size (bench/gpu.sh; without a GPU it checks what it can and exits 0)
gpu-check: ort
	bash bench/gpu.sh

## fuzz: a minute of fuzzing each for the WebDataset reader, CLIP's tokenizer, the caption cleaner and the matcher (against its reference path)
fuzz:
	$(GO) test ./io/wds -run XXX -fuzz FuzzReader -fuzztime 60s -fuzzminimizetime 5s
	$(GO) test ./io/wds -run XXX -fuzz FuzzScanner -fuzztime 60s -fuzzminimizetime 5s
	$(GO) test ./models/clip -run XXX -fuzz FuzzTokenize -fuzztime 60s
	$(GO) test ./transforms/caption -run XXX -fuzz FuzzCleaner -fuzztime 60s
	$(GO) test ./transforms/caption -run XXX -fuzz FuzzMatcherDifferential -fuzztime 60s

## vocab: regenerate the embedded vocabularies (study classes, study retrieval words) from the study's released counts
vocab:
	$(GO) run ./transforms/caption/internal/mkvocab -paper ../shared/data/paper -out transforms/caption

clean:
	rm -rf out bin bench/results
