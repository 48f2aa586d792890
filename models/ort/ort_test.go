//go:build cgo

package ort_test

import (
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conceptfreq/conceptfreq/models/ort"
	"github.com/conceptfreq/conceptfreq/models/ort/orttest"
)

const models = "../../testdata/models"

func lib(t testing.TB) string { return orttest.Lib(t) }

func TestColourTaggerThroughONNXRuntime(t *testing.T) {
	s, err := ort.Open(filepath.Join(models, "colour_tagger.onnx"), ort.Options{LibPath: lib(t), Device: "cpu", IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Input != "image" || s.Output != "scores" || s.Device != "cpu" {
		t.Errorf("got input %q output %q device %q", s.Input, s.Output, s.Device)
	}
	if got := s.Metadata["conceptfreq.labels"]; got != "red\ngreen\nblue\nmagenta" {
		t.Errorf("labels metadata: got %q", got)
	}
	// Two 2×2 images: constant (1,0,0) and constant (0,0,0) in every channel.
	const h, w = 2, 2
	in := make([]float32, 2*3*h*w)
	for i := 0; i < h*w; i++ {
		in[i] = 1 // image 0, channel R
	}
	out, c, err := s.Run(in, 2, h, w)
	if err != nil {
		t.Fatal(err)
	}
	if c != 4 || len(out) != 8 {
		t.Fatalf("got %d columns, %d values; want 4, 8", c, len(out))
	}
	sig := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	want := []float64{sig(4), sig(-2), sig(-2), 0.5, 0.5, 0.5, 0.5, 0.5}
	for i, v := range out {
		if math.Abs(float64(v)-want[i]) > 1e-6 {
			t.Errorf("output[%d] = %v, want %v", i, v, want[i])
		}
	}
	// Batch sizes 1 and 5 on the same session.
	for _, n := range []int{1, 5} {
		if _, c, err := s.Run(make([]float32, n*3*7*9), n, 7, 9); err != nil || c != 4 {
			t.Errorf("batch %d: %v", n, err)
		}
	}
	if _, _, err := s.Run(make([]float32, 5), 1, 2, 2); err == nil || !strings.Contains(err.Error(), "input has 5 values, want 1×3×2×2") {
		t.Errorf("wrong input length: got %v", err)
	}
}

func TestCUDAUnavailable(t *testing.T) {
	l := lib(t)
	_, err := ort.Open(filepath.Join(models, "colour_tagger.onnx"), ort.Options{LibPath: l, Device: "cuda"})
	if err == nil {
		t.Skip("this ONNX Runtime library has a working CUDA provider")
	}
	if !errors.Is(err, ort.ErrProviderUnavailable) || !strings.Contains(err.Error(), "cuda") {
		t.Errorf("got %v, want ErrProviderUnavailable naming cuda", err)
	}
	// auto falls back to the CPU instead.
	s, err := ort.Open(filepath.Join(models, "colour_tagger.onnx"), ort.Options{LibPath: l, Device: "auto"})
	if err != nil {
		t.Fatalf("auto: %v", err)
	}
	defer s.Close()
	if s.Device != "cpu" {
		t.Errorf("auto: device %q, want cpu fallback", s.Device)
	}
	if _, err := ort.Open(filepath.Join(models, "colour_tagger.onnx"), ort.Options{LibPath: l, Device: "tpu"}); err == nil || !strings.Contains(err.Error(), `unknown device "tpu"`) {
		t.Errorf("unknown device: got %v", err)
	}
}

// TestLibraryMissing runs in a fresh process (the environment is per
// process, and other tests initialise it): a missing library is a clear
// error that says how to install one.
func TestLibraryMissing(t *testing.T) {
	if path := os.Getenv("ORT_TEST_MISSING_LIB"); path != "" {
		_, err := ort.Open(filepath.Join(models, "colour_tagger.onnx"), ort.Options{LibPath: path})
		if !errors.Is(err, ort.ErrLibraryMissing) {
			t.Fatalf("got %v, want ErrLibraryMissing", err)
		}
		os.Stdout.WriteString("ERROR: " + err.Error() + "\n")
		return
	}
	missing := filepath.Join(t.TempDir(), "libonnxruntime.so.1")
	cmd := exec.Command(os.Args[0], "-test.run=^TestLibraryMissing$", "-test.v")
	cmd.Env = append(os.Environ(), "ORT_TEST_MISSING_LIB="+missing)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, want := range []string{"ONNX Runtime library not found", missing, "install_ort.sh", "--ort_lib"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("error message lacks %q:\n%s", want, out)
		}
	}
}

// BenchmarkTaggingBatch: images/s through ONNX Runtime on the CPU with the
// colour test model at RAM++'s 384×384 input, per batch size.
func BenchmarkTaggingBatch(b *testing.B) {
	s, err := ort.Open(filepath.Join(models, "colour_tagger.onnx"), ort.Options{LibPath: lib(b), Device: "cpu", IntraOpThreads: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for _, n := range []int{1, 8, 32, 128} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			in := make([]float32, n*3*384*384)
			for i := range in {
				in[i] = float32(i%255) / 255
			}
			b.SetBytes(int64(4 * len(in)))
			for i := 0; i < b.N; i++ {
				if _, _, err := s.Run(in, n, 384, 384); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}
