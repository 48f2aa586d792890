package preprocess_test

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/conceptfreq/conceptfreq/models/preprocess"
)

// needNative skips (or, with CONCEPTFREQ_REQUIRE_TURBOJPEG=1 as make test
// sets it, fails) where libjpeg-turbo's TurboJPEG library is missing.
func needNative(t testing.TB) {
	t.Helper()
	if err := preprocess.NativeError(); err != nil {
		if os.Getenv("CONCEPTFREQ_REQUIRE_TURBOJPEG") == "1" {
			t.Fatalf("CONCEPTFREQ_REQUIRE_TURBOJPEG=1: %v", err)
		}
		t.Skip(err)
	}
}

// levels is the difference of two tensors in 8-bit levels (the tensor's
// units × std × 255): the largest and the mean.
func levels(a, b []float32, o preprocess.Options) (worst, mean float64) {
	plane := len(a) / 3
	for i := range a {
		d := math.Abs(float64(a[i]-b[i])) * float64(o.Std[i/plane]) * 255
		worst = math.Max(worst, d)
		mean += d
	}
	return worst, mean / float64(len(a))
}

// The native decoder against the Go path on the real photos: the same
// tensor up to the decoders' differences (libjpeg-turbo upsamples chroma
// smoothly, as Pillow does; Go's image/jpeg replicates it), at RAM++'s and
// CLIP's preprocessing.
func TestNativeDecoderOnRealPhotos(t *testing.T) {
	needNative(t)
	for _, o := range []preprocess.Options{preprocess.DefaultOptions(), preprocess.CLIPOptions()} {
		for _, f := range realPhotos(t) {
			data, _ := os.ReadFile(f)
			want, wf, err := preprocess.Decoding{}.Tensor(data, o, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, gf, err := preprocess.Decoding{Native: true}.Tensor(data, o, nil)
			if err != nil || gf != wf || len(got) != len(want) {
				t.Fatalf("%s: native: %v, format %q (go %q), %d values (go %d)", f, err, gf, wf, len(got), len(want))
			}
			worst, mean := levels(got, want, o)
			t.Logf("%s %d² %s: native vs go: max %.1f levels, mean %.2f", filepath.Base(f), o.Size, o.Resize, worst, mean)
			if mean > 2 || worst > 64 {
				t.Errorf("%s %d² %s: native vs go: max %.1f, mean %.2f levels (want mean ≤ 2, max ≤ 64)", filepath.Base(f), o.Size, o.Resize, worst, mean)
			}
		}
	}
}

// upscaled is a real photo at k× its size (Go's resampler, re-encoded at
// quality 90): a large JPEG, where shrink-on-load applies.
func upscaled(t testing.TB, path string, k int) []byte {
	data, _ := os.ReadFile(path)
	img, _, err := preprocess.Decode(data, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	w, h := b.Dx()*k, b.Dy()*k
	big := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			big.Set(x, y, img.At(b.Min.X+x/k, b.Min.Y+y/k))
		}
	}
	var out bytes.Buffer
	if err := jpeg.Encode(&out, big, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// Shrink-on-load: DCT-domain scaling changes pixels by little against a
// full-size native decode, and only where the image is at least twice the
// input size.
func TestShrinkOnLoad(t *testing.T) {
	needNative(t)
	o := preprocess.DefaultOptions()
	photos := realPhotos(t)
	for _, f := range photos[:3] {
		small, _ := os.ReadFile(f)
		cfg, _, err := image.DecodeConfig(bytes.NewReader(small))
		if err != nil {
			t.Fatal(err)
		}
		big := upscaled(t, f, 4)
		for _, c := range []struct {
			name   string
			data   []byte
			shrunk bool
		}{{"as is", small, false}, {"4× upscaled", big, 4*min(cfg.Width, cfg.Height) >= 2*o.Size}} {
			full, _, err := preprocess.Decoding{Native: true}.Tensor(c.data, o, nil)
			if err != nil {
				t.Fatal(err)
			}
			fast, _, err := preprocess.Decoding{Native: true, ShrinkOnLoad: true}.Tensor(c.data, o, nil)
			if err != nil {
				t.Fatal(err)
			}
			worst, mean := levels(fast, full, o)
			t.Logf("%s %s: shrink-on-load vs full decode: max %.1f levels, mean %.2f", filepath.Base(f), c.name, worst, mean)
			switch {
			case !c.shrunk && worst != 0:
				t.Errorf("%s %s: smaller than twice the input, yet shrink-on-load changed it (max %.1f levels)", filepath.Base(f), c.name, worst)
			case c.shrunk && (worst == 0 || mean > 2 || worst > 64):
				t.Errorf("%s %s: shrink-on-load vs full: max %.1f, mean %.2f levels (want a change, mean ≤ 2, max ≤ 64)", filepath.Base(f), c.name, worst, mean)
			}
		}
	}
}

// EXIF orientation, the pixel budget and broken files give the Go path's
// results through the native decoder.
func TestNativeOrientationAndRejects(t *testing.T) {
	needNative(t)
	data, _ := os.ReadFile(realPhotos(t)[0]) // 123×456
	o := preprocess.Options{Size: 64, Resize: preprocess.Crop, Mean: preprocess.ImageNetMean, Std: preprocess.ImageNetStd}
	for _, or := range []uint16{1, 2, 3, 4, 5, 6, 7, 8} {
		in := withOrientation(data, or)
		want, _, err := preprocess.Decoding{}.Tensor(in, o, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := preprocess.Decoding{Native: true}.Tensor(in, o, nil)
		if err != nil {
			t.Fatal(err)
		}
		if worst, mean := levels(got, want, o); mean > 2 {
			t.Errorf("orientation %d: native vs go: max %.1f, mean %.2f levels: not the same orientation", or, worst, mean)
		}
	}
	n := preprocess.Decoding{Native: true, MaxPixels: 5000}
	if _, _, err := n.Tensor(data, o, nil); !errors.Is(err, preprocess.ErrTooLarge) {
		t.Errorf("123×456 over a 5,000-pixel budget: got %v, want ErrTooLarge", err)
	}
	n.MaxPixels = 0
	if _, _, err := n.Tensor(data[:len(data)/2], o, nil); !errors.Is(err, preprocess.ErrDecode) {
		t.Errorf("truncated JPEG: got %v, want ErrDecode (the Go decoder's verdict)", err)
	}
	if _, _, err := n.Tensor(data[:40], o, nil); !errors.Is(err, preprocess.ErrDecode) {
		t.Errorf("a JPEG cut in its header: got %v, want ErrDecode", err)
	}
	dst := []float32{42}
	out, _, err := n.Tensor(data, o, dst)
	if err != nil || len(out) != 1+3*64*64 || out[0] != 42 {
		t.Errorf("appending to a batch: %v, %d values, first %v", err, len(out), out[0])
	}
}

func TestResolveDecoder(t *testing.T) {
	if native, err := preprocess.ResolveDecoder("go"); native || err != nil {
		t.Errorf("go: %v %v", native, err)
	}
	if _, err := preprocess.ResolveDecoder("pillow"); err == nil {
		t.Error("pillow: no error")
	}
	native, err := preprocess.ResolveDecoder("auto")
	if err != nil || native != (preprocess.NativeError() == nil) {
		t.Errorf("auto: %v %v, native error %v", native, err, preprocess.NativeError())
	}
	if _, err := preprocess.ResolveDecoder("native"); (err == nil) != (preprocess.NativeError() == nil) {
		t.Errorf("native: %v, native error %v", err, preprocess.NativeError())
	}
}
