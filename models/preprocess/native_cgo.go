//go:build cgo

package preprocess

/*
#cgo CFLAGS: -O3
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

// The few TurboJPEG 2.x entry points used, loaded with dlopen so that a
// machine without libturbojpeg still runs the binary (on the pure-Go
// decoder) and says why.
typedef void *tjhandle;
static void *tj_lib;
static tjhandle (*tj_init)(void);
static int (*tj_header)(tjhandle, const unsigned char *, unsigned long, int *, int *, int *, int *);
static int (*tj_decompress)(tjhandle, const unsigned char *, unsigned long, unsigned char *, int, int, int, int, int);
static char *(*tj_errstr)(tjhandle);
static int (*tj_destroy)(tjhandle);

static const char *tj_open(const char *name) {
	if (tj_lib) return NULL;
	void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!lib) return dlerror();
	tj_init = dlsym(lib, "tjInitDecompress");
	tj_header = dlsym(lib, "tjDecompressHeader3");
	tj_decompress = dlsym(lib, "tjDecompress2");
	tj_errstr = dlsym(lib, "tjGetErrorStr2");
	tj_destroy = dlsym(lib, "tjDestroy");
	if (!tj_init || !tj_header || !tj_decompress || !tj_errstr || !tj_destroy) {
		dlclose(lib);
		return "a symbol of the TurboJPEG 2 API is missing";
	}
	tj_lib = lib;
	return NULL;
}

static tjhandle tj_new(void) { return tj_init(); }
static void tj_free(tjhandle h) { tj_destroy(h); }
static const char *tj_error(tjhandle h) { return tj_errstr(h); }

static int tj_dims(tjhandle h, const unsigned char *data, unsigned long n, int *w, int *hh) {
	int sub, cs;
	return tj_header(h, data, n, w, hh, &sub, &cs);
}

// TJPF_RGB is 0; flags 0: libjpeg's accurate integer IDCT and smooth
// ("fancy") chroma upsampling, as Pillow decodes.
static int tj_rgb(tjhandle h, const unsigned char *data, unsigned long n, unsigned char *dst, int w, int hh) {
	return tj_decompress(h, data, n, dst, w, w * 3, hh, 0, 0);
}

// resample_rgb resizes interleaved 8-bit RGB (w×h) to ow×oh with
// precomputed taps (kx per output column, ky per output row, zero-padded),
// vertically first (contiguous rows, vectorised) and then horizontally, and
// writes the normalised CHW planes: out = v·scale[c] + bias[c].
static void resample_rgb(const unsigned char *src, int w,
	const int *xs, const float *xw, int kx, int ow,
	const int *ys, const float *yw, int ky, int oh,
	float *row, const float *scale, const float *bias, float *out) {
	const int n = w * 3;
	float *R = out, *G = out + (size_t)oh * ow, *B = out + 2 * (size_t)oh * ow;
	for (int o = 0; o < oh; o++) {
		const float *wt = yw + (size_t)o * ky;
		const unsigned char *s0 = src + (size_t)ys[o] * n;
		for (int i = 0; i < n; i++) row[i] = wt[0] * (float)s0[i];
		for (int k = 1; k < ky; k++) {
			const unsigned char *s = s0 + (size_t)k * n;
			const float c = wt[k];
			for (int i = 0; i < n; i++) row[i] += c * (float)s[i];
		}
		float *r = R + (size_t)o * ow, *g = G + (size_t)o * ow, *b = B + (size_t)o * ow;
		for (int x = 0; x < ow; x++) {
			const float *p = row + 3 * xs[x];
			const float *c = xw + (size_t)x * kx;
			float vr = 0, vg = 0, vb = 0;
			for (int k = 0; k < kx; k++) {
				vr += c[k] * p[3 * k];
				vg += c[k] * p[3 * k + 1];
				vb += c[k] * p[3 * k + 2];
			}
			r[x] = vr * scale[0] + bias[0];
			g[x] = vg * scale[1] + bias[1];
			b[x] = vb * scale[2] + bias[2];
		}
	}
}
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"
)

// TurboJPEGLib is the shared library the native decoder loads.
const TurboJPEGLib = "libturbojpeg.so.0"

var loadNative = sync.OnceValue(func() error {
	name := C.CString(TurboJPEGLib)
	defer C.free(unsafe.Pointer(name))
	if msg := C.tj_open(name); msg != nil {
		return fmt.Errorf("%w: %s: %s (Debian: apt-get install libturbojpeg0)", ErrNoNative, TurboJPEGLib, C.GoString(msg))
	}
	return nil
})

// handles are idle TurboJPEG decompressors (one is used by one goroutine
// at a time), at most a few per core; more are destroyed.
var handles = make(chan C.tjhandle, 64)

func getHandle() (C.tjhandle, error) {
	select {
	case h := <-handles:
		return h, nil
	default:
	}
	h := C.tj_new()
	if h == nil {
		return nil, fmt.Errorf("%w: tjInitDecompress failed", ErrNoNative)
	}
	return h, nil
}

func putHandle(h C.tjhandle) {
	select {
	case handles <- h:
	default:
		C.tj_free(h)
	}
}

func cbytes(b []byte) (*C.uchar, C.ulong) {
	return (*C.uchar)(unsafe.Pointer(unsafe.SliceData(b))), C.ulong(len(b))
}

// jpegDims reads a JPEG's size from its header.
func jpegDims(h C.tjhandle, data []byte) (w, hh int, err error) {
	p, n := cbytes(data)
	var cw, ch C.int
	if C.tj_dims(h, p, n, &cw, &ch) != 0 {
		return 0, 0, fmt.Errorf("header: %s", C.GoString(C.tj_error(h)))
	}
	return int(cw), int(ch), nil
}

// jpegRGB decodes a JPEG into interleaved RGB at w×h (its size or a DCT
// scaling of it: 1/2, 1/4, 1/8, rounded up, as libjpeg scales).
func jpegRGB(h C.tjhandle, data []byte, w, hh int, dst []byte) error {
	p, n := cbytes(data)
	if C.tj_rgb(h, p, n, (*C.uchar)(unsafe.Pointer(unsafe.SliceData(dst))), C.int(w), C.int(hh)) != 0 {
		return fmt.Errorf("%s", C.GoString(C.tj_error(h)))
	}
	return nil
}

func resampleRGB(src []byte, w int, tx, ty flatTaps, ow, oh int, row []float32, scale, bias *[3]float32, out []float32) {
	C.resample_rgb((*C.uchar)(unsafe.Pointer(unsafe.SliceData(src))), C.int(w),
		(*C.int)(unsafe.Pointer(unsafe.SliceData(tx.start))), (*C.float)(unsafe.Pointer(unsafe.SliceData(tx.w))), C.int(tx.k), C.int(ow),
		(*C.int)(unsafe.Pointer(unsafe.SliceData(ty.start))), (*C.float)(unsafe.Pointer(unsafe.SliceData(ty.w))), C.int(ty.k), C.int(oh),
		(*C.float)(unsafe.Pointer(unsafe.SliceData(row))), (*C.float)(unsafe.Pointer(&scale[0])), (*C.float)(unsafe.Pointer(&bias[0])),
		(*C.float)(unsafe.Pointer(unsafe.SliceData(out))))
}
