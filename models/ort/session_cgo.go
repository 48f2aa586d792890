//go:build cgo

package ort

import (
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"

	onnx "github.com/yalue/onnxruntime_go"
)

// Available reports whether this binary was built with ONNX Runtime support.
const Available = true

var (
	envMu  sync.Mutex
	envLib string
)

// Init creates the process's ONNX Runtime environment from the library at
// lib. Later calls with the same path do nothing; another path is an error.
func Init(lib string) error {
	envMu.Lock()
	defer envMu.Unlock()
	if onnx.IsInitialized() {
		if lib != envLib {
			return fmt.Errorf("ort: environment already initialised from %s, cannot switch to %s", envLib, lib)
		}
		return nil
	}
	if _, err := os.Stat(lib); err != nil {
		return fmt.Errorf("%w at %s: %s", ErrLibraryMissing, lib, InstallHint)
	}
	onnx.SetSharedLibraryPath(lib)
	if err := onnx.InitializeEnvironment(onnx.WithLogLevelError()); err != nil {
		return fmt.Errorf("ort: initialising ONNX Runtime from %s: %w", lib, err)
	}
	envLib = lib
	return nil
}

// LibraryVersion loads the ONNX Runtime library (see ResolveLib) and
// returns its version.
func LibraryVersion(lib string) (string, error) {
	if err := Init(lib); err != nil {
		return "", err
	}
	return onnx.GetVersion(), nil
}

// Session is one loaded model with a single float input and output.
type Session struct {
	s        *onnx.DynamicAdvancedSession
	Input    string
	Output   string
	Metadata map[string]string
	Device   string // the provider actually used
}

// Open loads an ONNX model file for inference on the chosen device.
func Open(modelPath string, o Options) (*Session, error) {
	data, err := os.ReadFile(modelPath)
	if err != nil {
		return nil, fmt.Errorf("ort: %w", err)
	}
	return OpenData(modelPath, data, o)
}

// OpenData loads an ONNX model from memory (read from any filesystem);
// name is used in messages.
func OpenData(modelPath string, data []byte, o Options) (*Session, error) {
	if err := Init(o.LibPath); err != nil {
		return nil, err
	}
	device := o.Device
	if device == "" {
		device = "cpu"
	}
	ins, outs, err := onnx.GetInputOutputInfoWithONNXData(data)
	if err != nil {
		return nil, fmt.Errorf("ort: model %s: %w", modelPath, err)
	}
	input, output, err := pickIO(modelPath, ins, outs, o)
	if err != nil {
		return nil, err
	}
	opts, err := onnx.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("ort: %w", err)
	}
	defer opts.Destroy()
	// ONNX Runtime's intra-op threads spin between runs by default; here the
	// image decoders share the cores with them, so they sleep instead
	// (make bench row 8: 4,000 samples 6.3 s spinning, see docs/performance.md).
	if err := opts.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); err != nil {
		return nil, fmt.Errorf("ort: %w", err)
	}
	if o.IntraOpThreads > 0 {
		if err := opts.SetIntraOpNumThreads(o.IntraOpThreads); err != nil {
			return nil, fmt.Errorf("ort: %w", err)
		}
	}
	if o.InterOpThreads > 0 {
		if err := opts.SetInterOpNumThreads(o.InterOpThreads); err != nil {
			return nil, fmt.Errorf("ort: %w", err)
		}
	}
	used := "cpu"
	switch device {
	case "cpu":
	case "cuda", "auto":
		err := appendCUDA(opts)
		switch {
		case err == nil:
			used = "cuda"
		case device == "auto":
			slog.Warn("ort: CUDA unavailable, using the CPU", "model", modelPath, "reason", err)
		default:
			return nil, err
		}
	case "tensorrt":
		if err := appendTensorRT(opts); err != nil {
			return nil, err
		}
		used = "tensorrt"
	default:
		return nil, fmt.Errorf("ort: unknown device %q (want %s)", device, strings.Join(Devices, ", "))
	}
	s, err := onnx.NewDynamicAdvancedSessionWithONNXData(data, []string{input}, []string{output}, opts)
	if err != nil {
		return nil, fmt.Errorf("ort: model %s on %s: %w", modelPath, used, err)
	}
	out := &Session{s: s, Input: input, Output: output, Metadata: map[string]string{}, Device: used}
	if md, err := s.GetModelMetadata(); err == nil {
		keys, _ := md.GetCustomMetadataMapKeys()
		for _, k := range keys {
			if v, ok, err := md.LookupCustomMetadataMap(k); err == nil && ok {
				out.Metadata[k] = v
			}
		}
		md.Destroy()
	}
	return out, nil
}

// pickIO chooses the input and output: the named ones, else the only input
// and the first output.
func pickIO(modelPath string, ins, outs []onnx.InputOutputInfo, o Options) (string, string, error) {
	names := func(infos []onnx.InputOutputInfo) []string {
		var out []string
		for _, i := range infos {
			out = append(out, i.Name)
		}
		return out
	}
	input, output := o.Input, o.Output
	switch {
	case input == "" && len(ins) != 1:
		return "", "", fmt.Errorf("ort: model %s has inputs %v: name the one to use", modelPath, names(ins))
	case input == "":
		input = ins[0].Name
	case !slices.Contains(names(ins), input):
		return "", "", fmt.Errorf("ort: model %s has no input %q (inputs %v)", modelPath, input, names(ins))
	}
	switch {
	case len(outs) == 0:
		return "", "", fmt.Errorf("ort: model %s has no outputs", modelPath)
	case output == "":
		output = outs[0].Name
	case !slices.Contains(names(outs), output):
		return "", "", fmt.Errorf("ort: model %s has no output %q (outputs %v)", modelPath, output, names(outs))
	}
	return input, output, nil
}

func appendCUDA(opts *onnx.SessionOptions) error {
	cuda, err := onnx.NewCUDAProviderOptions()
	if err != nil {
		return fmt.Errorf("%w: cuda: %v (the ONNX Runtime library is a CPU build; use ONNX Runtime's GPU build, see runners/Dockerfile, or the cpu or auto device)", ErrProviderUnavailable, err)
	}
	defer cuda.Destroy()
	if err := opts.AppendExecutionProviderCUDA(cuda); err != nil {
		return fmt.Errorf("%w: cuda: %v (libonnxruntime_providers_cuda.so beside the ONNX Runtime library is missing, of another ONNX Runtime version, or cannot find the CUDA and cuDNN libraries it needs: ldd it; make gpu-check says what is missing; or use the cpu or auto device)", ErrProviderUnavailable, err)
	}
	return nil
}

func appendTensorRT(opts *onnx.SessionOptions) error {
	trt, err := onnx.NewTensorRTProviderOptions()
	if err != nil {
		return fmt.Errorf("%w: tensorrt: %v (needs ONNX Runtime's GPU build with TensorRT)", ErrProviderUnavailable, err)
	}
	defer trt.Destroy()
	if err := opts.AppendExecutionProviderTensorRT(trt); err != nil {
		return fmt.Errorf("%w: tensorrt: %v (needs ONNX Runtime's GPU build with TensorRT)", ErrProviderUnavailable, err)
	}
	return nil
}

// Run feeds n images of shape [3,h,w] (NCHW, flattened in input) and returns
// the output flattened and its second dimension.
func (s *Session) Run(input []float32, n, h, w int) ([]float32, int, error) {
	if len(input) != n*3*h*w {
		return nil, 0, fmt.Errorf("ort: input has %d values, want %d×3×%d×%d", len(input), n, h, w)
	}
	in, err := onnx.NewTensor(onnx.NewShape(int64(n), 3, int64(h), int64(w)), input)
	if err != nil {
		return nil, 0, fmt.Errorf("ort: %w", err)
	}
	defer in.Destroy()
	return s.run(in, n)
}

// RunTokens feeds n rows of length token ids (int64, row-major [n,
// length], a text encoder's input) and returns the output flattened and
// its second dimension.
func (s *Session) RunTokens(ids []int64, n, length int) ([]float32, int, error) {
	if len(ids) != n*length {
		return nil, 0, fmt.Errorf("ort: input has %d token ids, want %d×%d", len(ids), n, length)
	}
	in, err := onnx.NewTensor(onnx.NewShape(int64(n), int64(length)), ids)
	if err != nil {
		return nil, 0, fmt.Errorf("ort: %w", err)
	}
	defer in.Destroy()
	return s.run(in, n)
}

// RunMatrix feeds an [n, d] float32 matrix (row-major; an embedding
// batch) and returns the output flattened and its second dimension.
func (s *Session) RunMatrix(x []float32, n, d int) ([]float32, int, error) {
	if len(x) != n*d {
		return nil, 0, fmt.Errorf("ort: input has %d values, want %d×%d", len(x), n, d)
	}
	in, err := onnx.NewTensor(onnx.NewShape(int64(n), int64(d)), x)
	if err != nil {
		return nil, 0, fmt.Errorf("ort: %w", err)
	}
	defer in.Destroy()
	return s.run(in, n)
}

// run runs one input and returns the [n, C] float output.
func (s *Session) run(in onnx.Value, n int) ([]float32, int, error) {
	outs := []onnx.Value{nil}
	if err := s.s.Run([]onnx.Value{in}, outs); err != nil {
		return nil, 0, fmt.Errorf("ort: run: %w", err)
	}
	defer outs[0].Destroy()
	t, ok := outs[0].(*onnx.Tensor[float32])
	if !ok {
		return nil, 0, fmt.Errorf("ort: output %s is not a float32 tensor", s.Output)
	}
	shape := t.GetShape()
	if len(shape) != 2 || shape[0] != int64(n) {
		return nil, 0, fmt.Errorf("ort: output %s has shape %v, want [%d, C]", s.Output, shape, n)
	}
	data := append([]float32(nil), t.GetData()...)
	return data, int(shape[1]), nil
}

// Close releases the session.
func (s *Session) Close() error {
	if s == nil || s.s == nil {
		return nil
	}
	err := s.s.Destroy()
	s.s = nil
	return err
}
