// Package ort runs ONNX models with ONNX Runtime through
// github.com/yalue/onnxruntime_go (cgo). Binaries built with CGO_ENABLED=0
// get a stub whose Open reports that ONNX support was not compiled in, so the
// text-only job still builds for Dataflow's cross-compiling launcher.
//
// One ONNX Runtime environment exists per process (Init); each worker opens
// its own Session (in a DoFn's Setup) and closes it (in Teardown).
package ort

import (
	"errors"
	"os"
	"path/filepath"
)

// Errors reported by the package.
var (
	// ErrLibraryMissing: the ONNX Runtime shared library is not where it was
	// looked for.
	ErrLibraryMissing = errors.New("ort: ONNX Runtime library not found")
	// ErrProviderUnavailable: the requested execution provider (cuda,
	// tensorrt) is not in this ONNX Runtime build or device.
	ErrProviderUnavailable = errors.New("ort: execution provider unavailable")
	// ErrNoONNX: the binary was built without cgo, so without ONNX Runtime.
	ErrNoONNX = errors.New("ort: this binary was built without ONNX support (CGO_ENABLED=0); build it with cgo (make worker) to tag images")
)

// LibEnv is the environment variable naming the library path.
const LibEnv = "CONCEPTFREQ_ORT_LIB"

// DefaultLib is where models/install_ort.sh installs the library, relative
// to the repository root.
const DefaultLib = ".cache/onnxruntime/libonnxruntime.so.1"

// InstallHint tells users how to get the library.
const InstallHint = "install it with `bash models/install_ort.sh` (ONNX Runtime 1.30 CPU from npm onnxruntime-node@1.30.0), " +
	"or point $" + LibEnv + " (the count job: --ort_lib) at a libonnxruntime.so (the GPU build for the cuda device)"

// Devices accepted by Options.Device.
var Devices = []string{"cpu", "cuda", "tensorrt", "auto"}

// Options configure a session.
type Options struct {
	// LibPath is the ONNX Runtime shared library; see ResolveLib.
	LibPath string
	// Device picks the execution provider: cpu, cuda, tensorrt, or auto
	// (cuda when available, else cpu). cuda/tensorrt never fall back.
	Device string
	// IntraOpThreads and InterOpThreads bound ONNX Runtime's thread pools
	// (0: ONNX Runtime's default).
	IntraOpThreads, InterOpThreads int
	// Input and Output name the model's input and output to use (default:
	// its only input and its first output).
	Input, Output string
}

// ResolveLib returns the library path: flag, else $CONCEPTFREQ_ORT_LIB, else
// DefaultLib found in the working directory or one of its parents.
func ResolveLib(flag string) string {
	if flag != "" {
		return flag
	}
	if env := os.Getenv(LibEnv); env != "" {
		return env
	}
	dir, err := os.Getwd()
	for err == nil {
		p := filepath.Join(dir, DefaultLib)
		if _, serr := os.Stat(p); serr == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return DefaultLib
}
