package preprocess

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/conceptfreq/conceptfreq/io/reject"
)

// Decoders: how image bytes become pixels.
const (
	DecoderAuto   = "auto"   // native where it loads, else go
	DecoderNative = "native" // libjpeg-turbo (TurboJPEG, dlopened) for JPEGs; the Go decoders for the other formats
	DecoderGo     = "go"     // Go's image decoders (the only one in CGO_ENABLED=0 builds)
)

// RejectReason is the reject reason of an error of Decode or
// Decoding.Tensor: image_unsupported, image_too_large or image_decode.
func RejectReason(err error) string {
	switch {
	case errors.Is(err, ErrUnsupported):
		return reject.ImageUnsupported
	case errors.Is(err, ErrTooLarge):
		return reject.ImageTooLarge
	}
	return reject.ImageDecode
}

// ErrNoNative says the native decoder cannot be used here.
var ErrNoNative = errors.New("preprocess: native image decoder unavailable")

// NativeError is nil when the native decoder loads, else why it does not.
func NativeError() error { return loadNative() }

// ResolveDecoder turns a --decoder value into whether to use the native
// decoder: auto takes it where it loads; native requires it (an error naming
// the library and its Debian package otherwise); go never uses it.
func ResolveDecoder(name string) (native bool, err error) {
	switch name {
	case DecoderGo:
		return false, nil
	case DecoderNative:
		if err := loadNative(); err != nil {
			return false, err
		}
		return true, nil
	case DecoderAuto, "":
		return loadNative() == nil, nil
	}
	return false, fmt.Errorf("preprocess: decoder %q (want %s, %s or %s)", name, DecoderAuto, DecoderNative, DecoderGo)
}

// ResolveDecoding is the Decoding of a --decoder value (ResolveDecoder)
// on this machine: shrink-on-load applies to the native decoder only.
func ResolveDecoding(decoder string, shrinkOnLoad bool, maxPixels int64) (Decoding, error) {
	native, err := ResolveDecoder(decoder)
	if err != nil {
		return Decoding{}, err
	}
	return Decoding{Native: native, ShrinkOnLoad: native && shrinkOnLoad, MaxPixels: maxPixels}, nil
}

// Decoding says how a run turns image bytes into tensors.
type Decoding struct {
	// Native decodes JPEGs with libjpeg-turbo (resolved by ResolveDecoder)
	// and resamples them in C; other formats, and JPEGs libjpeg-turbo
	// refuses or warns about, take the Go path, so rejects are the Go
	// decoders'.
	Native bool
	// ShrinkOnLoad lets the native decoder scale a JPEG by 1/2, 1/4 or 1/8
	// in the DCT domain, the most that still leaves at least the model's
	// input size (both sides for squash, the shorter side for crop), before
	// the resampler; it changes pixels (docs/tagging.md measures by how
	// much). False: every JPEG is decoded at full size.
	ShrinkOnLoad bool
	MaxPixels    int64 // pixel budget (0: DefaultMaxPixels)
}

// Tensor decodes data and appends its normalised CHW tensor (3·Size·Size
// values) to dst, returning it and the image's format. Errors are Decode's
// (ErrUnsupported, ErrTooLarge, ErrDecode).
func (d Decoding) Tensor(data []byte, o Options, dst []float32) ([]float32, string, error) {
	if d.Native && isJPEG(data) {
		if out, ok, err := d.nativeTensor(data, o, dst); ok || err != nil {
			return out, "jpeg", err
		}
	}
	img, format, err := Decode(data, d.MaxPixels)
	if err != nil {
		return dst, format, err
	}
	return Tensor(img, o, dst), format, nil
}

func isJPEG(b []byte) bool { return len(b) > 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF }

// nativeScratch is one call's buffers, reused across calls.
type nativeScratch struct {
	rgb, rot []byte
	row      []float32
}

var scratchPool = sync.Pool{New: func() any { return new(nativeScratch) }}

// nativeTensor is the libjpeg-turbo path; ok false (and no error) hands
// the image to the Go path.
func (d Decoding) nativeTensor(data []byte, o Options, dst []float32) ([]float32, bool, error) {
	h, err := getHandle()
	if err != nil {
		return dst, false, nil
	}
	defer putHandle(h)
	w, hh, err := jpegDims(h, data)
	if err != nil || w <= 0 || hh <= 0 {
		return dst, false, nil
	}
	budget := d.MaxPixels
	if budget <= 0 {
		budget = DefaultMaxPixels
	}
	if int64(w)*int64(hh) > budget {
		return dst, false, fmt.Errorf("%w: jpeg %dx%d = %d pixels, budget %d", ErrTooLarge, w, hh, int64(w)*int64(hh), budget)
	}
	sw, sh := w, hh
	if d.ShrinkOnLoad {
		sw, sh = shrunk(w, hh, o)
	}
	s := scratchPool.Get().(*nativeScratch)
	defer scratchPool.Put(s)
	s.rgb = grow(s.rgb, sw*sh*3)
	if err := jpegRGB(h, data, sw, sh, s.rgb); err != nil {
		return dst, false, nil // a warning (truncated data, …) or a colour space it does not convert: the Go path decides
	}
	pix := s.rgb
	if or := exifOrientation(data); or > 1 {
		s.rot = grow(s.rot, len(pix))
		sw, sh = orientRGB(pix, sw, sh, or, s.rot)
		pix = s.rot
	}
	x0, xs, y0, ys := 0.0, float64(sw), 0.0, float64(sh)
	if o.Resize == Crop {
		side := math.Min(float64(sw), float64(sh))
		x0, xs = (float64(sw)-side)/2, side
		y0, ys = (float64(sh)-side)/2, side
	}
	tx := flatten(bilinearTaps(sw, x0, xs, o.Size), sw)
	ty := flatten(bilinearTaps(sh, y0, ys, o.Size), sh)
	s.row = growF(s.row, sw*3)
	var scale, bias [3]float32
	for c := range scale {
		scale[c] = 1 / (255 * o.Std[c])
		bias[c] = -o.Mean[c] / o.Std[c]
	}
	n := len(dst)
	dst = growF(dst[:cap(dst)], n+3*o.Size*o.Size)[:n+3*o.Size*o.Size]
	resampleRGB(pix, sw, tx, ty, o.Size, o.Size, s.row, &scale, &bias, dst[n:])
	return dst, true, nil
}

// shrunk is the DCT-scaled size the native decoder decodes a w×h JPEG at:
// the smallest of 1, 1/2, 1/4, 1/8 (libjpeg rounds up) that still covers
// the model's input.
func shrunk(w, h int, o Options) (int, int) {
	for _, den := range []int{8, 4, 2} {
		sw, sh := (w+den-1)/den, (h+den-1)/den
		if (o.Resize == Crop && min(sw, sh) >= o.Size) || (o.Resize != Crop && sw >= o.Size && sh >= o.Size) {
			return sw, sh
		}
	}
	return w, h
}

// flatTaps are taps with a fixed count k per output (zero-padded, shifted
// to stay inside the input), as the C resampler takes them.
type flatTaps struct {
	start []int32
	w     []float32
	k     int
}

func flatten(t taps, in int) flatTaps {
	k := 1
	for _, ws := range t.w {
		k = max(k, len(ws))
	}
	f := flatTaps{start: make([]int32, len(t.start)), w: make([]float32, len(t.start)*k), k: k}
	for o, s := range t.start {
		shift := 0
		if s+k > in {
			shift = s + k - in
		}
		f.start[o] = int32(s - shift)
		copy(f.w[o*k+shift:], t.w[o])
	}
	return f
}

// orientRGB applies EXIF orientation o (2–8) to interleaved RGB w×h into
// dst, returning the new size (the same mapping as orient).
func orientRGB(src []byte, w, h, o int, dst []byte) (int, int) {
	dw, dh := orientedSize(w, h, o)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			dx, dy := oriented(x, y, w, h, o)
			copy(dst[3*(dy*dw+dx):3*(dy*dw+dx)+3], src[3*(y*w+x):3*(y*w+x)+3])
		}
	}
	return dw, dh
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

func growF(b []float32, n int) []float32 {
	if cap(b) < n {
		nb := make([]float32, n, max(n, 2*cap(b)))
		copy(nb, b)
		return nb
	}
	return b[:n]
}
