//go:build !cgo

package ort

// Available reports whether this binary was built with ONNX Runtime support.
const Available = false

// Init always fails without cgo.
func Init(lib string) error { return ErrNoONNX }

// LibraryVersion always fails without cgo.
func LibraryVersion(lib string) (string, error) { return "", ErrNoONNX }

// Session is unusable without cgo.
type Session struct {
	Input, Output, Device string
	Metadata              map[string]string
}

// Open always fails without cgo.
func Open(modelPath string, o Options) (*Session, error) { return nil, ErrNoONNX }

// OpenData always fails without cgo.
func OpenData(modelPath string, data []byte, o Options) (*Session, error) { return nil, ErrNoONNX }

// Run always fails without cgo.
func (s *Session) Run(input []float32, n, h, w int) ([]float32, int, error) {
	return nil, 0, ErrNoONNX
}

// RunTokens always fails without cgo.
func (s *Session) RunTokens(ids []int64, n, length int) ([]float32, int, error) {
	return nil, 0, ErrNoONNX
}

// Close does nothing.
func (s *Session) Close() error { return nil }

// RunMatrix needs cgo.
func (s *Session) RunMatrix(x []float32, n, d int) ([]float32, int, error) { return nil, 0, ErrNoONNX }
