//go:build !cgo

package preprocess

import "fmt"

// TurboJPEGLib is the shared library the native decoder loads (in cgo builds).
const TurboJPEGLib = "libturbojpeg.so.0"

func loadNative() error {
	return fmt.Errorf("%w: built without cgo (CGO_ENABLED=0)", ErrNoNative)
}

type nativeHandle struct{}

func getHandle() (nativeHandle, error)                     { return nativeHandle{}, loadNative() }
func putHandle(nativeHandle)                               {}
func jpegDims(nativeHandle, []byte) (int, int, error)      { return 0, 0, loadNative() }
func jpegRGB(nativeHandle, []byte, int, int, []byte) error { return loadNative() }
func resampleRGB(src []byte, w int, tx, ty flatTaps, ow, oh int, row []float32, scale, bias *[3]float32, out []float32) {
	panic("preprocess: native resampler without cgo")
}
