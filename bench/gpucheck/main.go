// Command gpucheck is bench/gpu.sh's Go half: it builds an image-tagging
// graph of RAM++'s size in Go (a Swin-L-like cost, about 100 GFLOPs an
// image at 384², with RAM++'s 4,585 tag outputs), opens it with ONNX
// Runtime on --device, and prints images/s by batch size.
//
//	go run ./bench/gpucheck --ort_lib=LIB --device=cuda --batches=1,8,32,64
//	go run ./bench/gpucheck --model=testdata/models/colour_tagger.onnx --device=cuda
//	go run ./bench/gpucheck --build_only --out=ramplus_sized.onnx
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/conceptfreq/conceptfreq/models/onnxbuild"
	"github.com/conceptfreq/conceptfreq/models/ort"
)

const (
	size   = 384  // RAM++'s input size
	width  = 768  // channels after the patch embedding
	hidden = 3072 // the blocks' expansion
	blocks = 18
	tags   = 4585 // RAM++'s tag list
)

// ramPlusSized is the graph: a 16×16 stride-16 patch embedding, 18 blocks
// of two pointwise convolutions (768 → 3072 → 768, ReLU between; one pair
// of weights shared by every block, so the file stays small), global
// average pooling and a 4,585-way sigmoid head.
func ramPlusSized() *onnxbuild.Model {
	rng := rand.New(rand.NewPCG(7, 8))
	w := func(n int, scale float32) []float32 {
		d := make([]float32, n)
		for i := range d {
			d[i] = (rng.Float32() - 0.5) * scale
		}
		return d
	}
	m := &onnxbuild.Model{
		Name:    "ramplus_sized",
		Inputs:  []onnxbuild.Value{{Name: "images", Dims: []onnxbuild.Dim{{Param: "batch"}, {Value: 3}, {Value: size}, {Value: size}}}},
		Outputs: []onnxbuild.Value{{Name: "probs", Dims: []onnxbuild.Dim{{Param: "batch"}, {Value: tags}}}},
		Initializers: []onnxbuild.Initializer{
			{Name: "patch", Dims: []int64{width, 3, 16, 16}, Data: w(width*3*16*16, 0.05)},
			{Name: "up", Dims: []int64{hidden, width, 1, 1}, Data: w(hidden*width, 0.05)},
			{Name: "down", Dims: []int64{width, hidden, 1, 1}, Data: w(width*hidden, 0.02)},
			{Name: "head", Dims: []int64{width, tags}, Data: w(width*tags, 0.05)},
		},
		Metadata: map[string]string{"conceptfreq.input_size": strconv.Itoa(size)},
	}
	conv := func(in, weight, out string, k int64) onnxbuild.Node {
		return onnxbuild.Node{Op: "Conv", Inputs: []string{in, weight}, Outputs: []string{out},
			IntsAttr: map[string][]int64{"kernel_shape": {k, k}, "strides": {k, k}}}
	}
	m.Nodes = append(m.Nodes, conv("images", "patch", "x0", 16))
	x := "x0"
	for b := 0; b < blocks; b++ {
		h, r, y := fmt.Sprintf("h%d", b), fmt.Sprintf("r%d", b), fmt.Sprintf("x%d", b+1)
		m.Nodes = append(m.Nodes, conv(x, "up", h, 1),
			onnxbuild.Node{Op: "Relu", Inputs: []string{h}, Outputs: []string{r}},
			conv(r, "down", y, 1))
		x = y
	}
	m.Nodes = append(m.Nodes,
		onnxbuild.Node{Op: "GlobalAveragePool", Inputs: []string{x}, Outputs: []string{"pooled"}},
		onnxbuild.Node{Op: "Flatten", Inputs: []string{"pooled"}, Outputs: []string{"flat"}},
		onnxbuild.Node{Op: "MatMul", Inputs: []string{"flat", "head"}, Outputs: []string{"logits"}},
		onnxbuild.Node{Op: "Sigmoid", Inputs: []string{"logits"}, Outputs: []string{"probs"}})
	return m
}

// GFLOPs is the graph's cost per image.
func gflops() float64 {
	patches := float64(size/16) * float64(size/16)
	return (patches*width*3*16*16*2 + blocks*2*patches*width*hidden*2 + width*tags*2) / 1e9
}

func main() {
	lib := flag.String("ort_lib", "", "ONNX Runtime library (default: as the commands resolve it)")
	device := flag.String("device", "cpu", "cpu, cuda or tensorrt")
	batches := flag.String("batches", "1,8,32", "batch sizes to time")
	iters := flag.Int("iters", 3, "timed runs per batch size (after one warm-up)")
	out := flag.String("out", "", "also write the graph to this file")
	buildOnly := flag.Bool("build_only", false, "build (and write) the graph, do not run it")
	model := flag.String("model", "", "time this ONNX model instead of the RAM++-sized graph (input size from its conceptfreq.input_size metadata)")
	flag.Parse()
	name, side := "ramplus_sized.onnx", size
	var data []byte
	if *model != "" {
		var err error
		if data, err = os.ReadFile(*model); err != nil {
			fail(err)
		}
		md, err := ort.ReadMetadata(data)
		if err != nil {
			fail(fmt.Errorf("%s: %w", *model, err))
		}
		if side, err = strconv.Atoi(md["conceptfreq.input_size"]); err != nil || side < 1 {
			fail(fmt.Errorf("%s: no conceptfreq.input_size metadata", *model))
		}
		name = *model
		fmt.Printf("graph: %s, %d×%d input, %.1f MB\n", *model, side, side, float64(len(data))/1e6)
	} else {
		data = ramPlusSized().Marshal()
		fmt.Printf("graph: RAM++-sized tagger, %d×%d input, %d tags, %.1f GFLOPs an image, %.1f MB\n", size, size, tags, gflops(), float64(len(data))/1e6)
	}
	if *out != "" {
		if err := os.WriteFile(*out, data, 0o644); err != nil {
			fail(err)
		}
	}
	if *buildOnly {
		return
	}
	s, err := ort.OpenData(name, data, ort.Options{LibPath: ort.ResolveLib(*lib), Device: *device})
	if err != nil {
		fail(err)
	}
	defer s.Close()
	v, _ := ort.LibraryVersion(ort.ResolveLib(*lib))
	fmt.Printf("ONNX Runtime %s, execution provider %s\n", v, s.Device)
	fmt.Printf("%8s %12s %14s\n", "batch", "images/s", "ms per batch")
	for _, f := range strings.Split(*batches, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fail(fmt.Errorf("--batches: %q", f))
		}
		in := make([]float32, n*3*side*side)
		for i := range in {
			in[i] = float32(i%255)/255 - 0.5
		}
		if _, _, err := s.Run(in, n, side, side); err != nil { // warm-up
			fail(err)
		}
		start := time.Now()
		for i := 0; i < *iters; i++ {
			if _, _, err := s.Run(in, n, side, side); err != nil {
				fail(err)
			}
		}
		el := time.Since(start).Seconds() / float64(*iters)
		fmt.Printf("%8d %12.1f %14.1f\n", n, float64(n)/el, el*1000)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gpucheck:", err)
	os.Exit(1)
}
