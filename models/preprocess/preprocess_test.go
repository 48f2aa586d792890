package preprocess_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conceptfreq/conceptfreq/internal/shareddata"
	"github.com/conceptfreq/conceptfreq/models/preprocess"
)

// realPhotos returns the real photos in shared/data/images (10 files).
func realPhotos(t testing.TB) []string {
	t.Helper()
	images := shareddata.Path(t, "images")
	files, _ := filepath.Glob(filepath.Join(images, "*.jpg"))
	png, _ := filepath.Glob(filepath.Join(images, "*.png"))
	files = append(files, png...)
	if len(files) < 10 {
		t.Fatalf("%d photos under %s, want the 10 of shared/data/images", len(files), images)
	}
	return files
}

func TestRealPhotosToTensor(t *testing.T) {
	for _, f := range realPhotos(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		img, format, err := preprocess.Decode(data, 0)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		// img2dataset's test photos are named WIDTH_HEIGHT: decoded upright
		// (EXIF honoured) they must have that size.
		var w, h int
		if n, _ := fmt.Sscanf(filepath.Base(f), "%d_%d.", &w, &h); n == 2 {
			if got := img.Bounds().Size(); got.X != w || got.Y != h {
				t.Errorf("%s: decoded %v, want %dx%d", f, got, w, h)
			}
		}
		for _, mode := range []string{preprocess.Squash, preprocess.Crop} {
			o := preprocess.DefaultOptions()
			o.Size, o.Resize = 64, mode
			ten := preprocess.Tensor(img, o, nil)
			if len(ten) != 3*64*64 {
				t.Fatalf("%s %s: got %d values, want %d", f, mode, len(ten), 3*64*64)
			}
			for c := 0; c < 3; c++ {
				lo := (0 - o.Mean[c]) / o.Std[c]
				hi := (1 - o.Mean[c]) / o.Std[c]
				var sum float64
				for _, v := range ten[c*64*64 : (c+1)*64*64] {
					if v < lo-1e-4 || v > hi+1e-4 || math.IsNaN(float64(v)) {
						t.Fatalf("%s %s channel %d: value %v outside [%v, %v]", f, mode, c, v, lo, hi)
					}
					sum += float64(v)
				}
				if mean := sum / (64 * 64); mean == float64(lo) || mean == float64(hi) {
					t.Errorf("%s: channel %d is flat", f, c)
				}
			}
		}
		_ = format
	}
}

// referenceSquash resizes with a direct, non-separable float64 evaluation of
// the same antialiased triangle filter (PIL's BILINEAR), written separately.
func referenceSquash(img image.Image, size int, c int) []float64 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	px := func(x, y int) float64 {
		r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
		return float64([]uint32{r, g, bl}[c]>>8) / 255
	}
	filt := func(n, out int) (func(o, x int) float64, float64) {
		scale := float64(n) / float64(out)
		support := math.Max(scale, 1)
		return func(o, x int) float64 {
			center := (float64(o) + 0.5) * scale
			return math.Max(0, 1-math.Abs((float64(x)+0.5-center)/support))
		}, support
	}
	fx, sx := filt(w, size)
	fy, sy := filt(h, size)
	out := make([]float64, size*size)
	for oy := 0; oy < size; oy++ {
		for ox := 0; ox < size; ox++ {
			var num, den float64
			cy := (float64(oy) + 0.5) * float64(h) / float64(size)
			cx := (float64(ox) + 0.5) * float64(w) / float64(size)
			for y := int(math.Max(0, math.Floor(cy-sy-1))); y < h && float64(y) < cy+sy+1; y++ {
				wy := fy(oy, y)
				if wy == 0 {
					continue
				}
				for x := int(math.Max(0, math.Floor(cx-sx-1))); x < w && float64(x) < cx+sx+1; x++ {
					wt := wy * fx(ox, x)
					num += wt * px(x, y)
					den += wt
				}
			}
			out[oy*size+ox] = num / den
		}
	}
	return out
}

// The resized tensor agrees with the float64 reference to within 1e-4 in
// [0,1] pixel units (float32 accumulation error only).
func TestResizeAgainstReference(t *testing.T) {
	const tol = 1e-4
	files := realPhotos(t)
	for _, f := range files[:min(4, len(files))] {
		data, _ := os.ReadFile(f)
		img, _, err := preprocess.Decode(data, 0)
		if err != nil {
			t.Fatal(err)
		}
		o := preprocess.Options{Size: 37, Resize: preprocess.Squash, Mean: [3]float32{0, 0, 0}, Std: [3]float32{1, 1, 1}}
		got := preprocess.Tensor(img, o, nil)
		for c := 0; c < 3; c++ {
			ref := referenceSquash(img, 37, c)
			worst := 0.0
			for i, r := range ref {
				worst = math.Max(worst, math.Abs(float64(got[c*37*37+i])-r))
			}
			if worst > tol {
				t.Errorf("%s channel %d: max difference %g > %g", filepath.Base(f), c, worst, tol)
			}
		}
	}
}

// withOrientation inserts an EXIF APP1 segment with the given orientation
// right after the JPEG's SOI marker.
func withOrientation(jpg []byte, o uint16) []byte {
	var tiff bytes.Buffer
	tiff.WriteString("MM")
	binary.Write(&tiff, binary.BigEndian, uint16(42))
	binary.Write(&tiff, binary.BigEndian, uint32(8))
	binary.Write(&tiff, binary.BigEndian, uint16(1))      // one entry
	binary.Write(&tiff, binary.BigEndian, uint16(0x0112)) // Orientation
	binary.Write(&tiff, binary.BigEndian, uint16(3))      // SHORT
	binary.Write(&tiff, binary.BigEndian, uint32(1))
	binary.Write(&tiff, binary.BigEndian, o)
	binary.Write(&tiff, binary.BigEndian, uint16(0))
	binary.Write(&tiff, binary.BigEndian, uint32(0))
	seg := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	var out bytes.Buffer
	out.Write(jpg[:2])
	out.Write([]byte{0xFF, 0xE1})
	binary.Write(&out, binary.BigEndian, uint16(len(seg)+2))
	out.Write(seg)
	out.Write(jpg[2:])
	return out.Bytes()
}

func TestEXIFOrientation(t *testing.T) {
	// A 4×2 image, left half red, right half blue.
	src := image.NewRGBA(image.Rect(0, 0, 40, 20))
	for y := 0; y < 20; y++ {
		for x := 0; x < 40; x++ {
			c := color.RGBA{255, 0, 0, 255}
			if x >= 20 {
				c = color.RGBA{0, 0, 255, 255}
			}
			src.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	jpeg.Encode(&b, src, &jpeg.Options{Quality: 95})
	tests := []struct {
		o             uint16
		w, h          int
		redAtX, redAt int // pixel expected red: (x, y)
	}{
		{1, 40, 20, 5, 10},
		{3, 40, 20, 35, 10}, // rotated 180: red on the right
		{6, 20, 40, 10, 5},  // rotated 90° clockwise: red on top
		{8, 20, 40, 10, 35}, // 90° counter-clockwise: red at the bottom
	}
	for _, tt := range tests {
		img, _, err := preprocess.Decode(withOrientation(b.Bytes(), tt.o), 0)
		if err != nil {
			t.Fatal(err)
		}
		if img.Bounds().Dx() != tt.w || img.Bounds().Dy() != tt.h {
			t.Errorf("orientation %d: got %v, want %dx%d", tt.o, img.Bounds().Size(), tt.w, tt.h)
			continue
		}
		r, _, bl, _ := img.At(tt.redAtX, tt.redAt).RGBA()
		if r>>8 < 200 || bl>>8 > 60 {
			t.Errorf("orientation %d: pixel (%d,%d) is not red: r=%d b=%d", tt.o, tt.redAtX, tt.redAt, r>>8, bl>>8)
		}
	}
}

// pngHeader returns a PNG whose IHDR declares w×h; its data is never read.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	binary.Write(&b, binary.BigEndian, uint32(13))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func TestRejectedImages(t *testing.T) {
	if _, _, err := preprocess.Decode(pngHeader(10000, 6000), 0); !errors.Is(err, preprocess.ErrTooLarge) {
		t.Errorf("60 MP header: got %v, want ErrTooLarge", err)
	}
	if _, _, err := preprocess.Decode(pngHeader(100, 100), 5000); !errors.Is(err, preprocess.ErrTooLarge) {
		t.Errorf("10,000 pixels over a 5,000 budget: got %v, want ErrTooLarge", err)
	}
	if _, _, err := preprocess.Decode([]byte("BM this is a bitmap, not supported"), 0); !errors.Is(err, preprocess.ErrUnsupported) {
		t.Errorf("BMP: got %v, want ErrUnsupported", err)
	}
	data, err := os.ReadFile(realPhotos(t)[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := preprocess.Decode(data[:len(data)/2], 0); !errors.Is(err, preprocess.ErrDecode) {
		t.Errorf("truncated JPEG: got %v, want ErrDecode", err)
	}
}

func TestGIFFirstFrameAndPNGAlpha(t *testing.T) {
	pal := color.Palette{color.RGBA{0, 255, 0, 255}, color.RGBA{255, 0, 0, 255}}
	f1 := image.NewPaletted(image.Rect(0, 0, 8, 8), pal) // all green (index 0)
	f2 := image.NewPaletted(image.Rect(0, 0, 8, 8), pal)
	for i := range f2.Pix {
		f2.Pix[i] = 1
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, &gif.GIF{Image: []*image.Paletted{f1, f2}, Delay: []int{0, 0}}); err != nil {
		t.Fatal(err)
	}
	img, format, err := preprocess.Decode(b.Bytes(), 0)
	if err != nil || format != "gif" {
		t.Fatalf("gif: %v %s", err, format)
	}
	if r, g, _, _ := img.At(3, 3).RGBA(); g>>8 != 255 || r != 0 {
		t.Errorf("gif: got the second frame (r=%d g=%d), want the first (green)", r>>8, g>>8)
	}
	// Semi-transparent PNG: straight colour is kept, as PIL's convert("RGB").
	n := image.NewNRGBA(image.Rect(0, 0, 4, 4))
	for i := 0; i < len(n.Pix); i += 4 {
		copy(n.Pix[i:], []byte{200, 100, 50, 128})
	}
	var pb bytes.Buffer
	png.Encode(&pb, n)
	img, _, err = preprocess.Decode(pb.Bytes(), 0)
	if err != nil {
		t.Fatal(err)
	}
	o := preprocess.Options{Size: 2, Resize: preprocess.Squash, Mean: [3]float32{0, 0, 0}, Std: [3]float32{1, 1, 1}}
	ten := preprocess.Tensor(img, o, nil)
	if math.Abs(float64(ten[0])-200.0/255) > 1e-5 || math.Abs(float64(ten[4])-100.0/255) > 1e-5 {
		t.Errorf("alpha PNG: got R=%v G=%v, want 200/255, 100/255", ten[0], ten[4])
	}
}

func TestOptions(t *testing.T) {
	if _, err := preprocess.ParseTriple("0.1,0.2"); err == nil || !strings.Contains(err.Error(), "want three comma-separated numbers") {
		t.Errorf("two values: got %v", err)
	}
	v, err := preprocess.ParseTriple("0.5, 0.25,1")
	if err != nil || v != [3]float32{0.5, 0.25, 1} {
		t.Errorf("got %v %v", v, err)
	}
	bad := preprocess.DefaultOptions()
	bad.Resize = "stretch"
	if bad.Validate() == nil {
		t.Error("bad resize mode validated")
	}
}

// BenchmarkPreprocessRealPhotos is decode + resize + normalise to RAM++'s
// 384² input, per decoder, over the real photos (or the JPEG/PNG files in
// $CONCEPTFREQ_BENCH_IMAGES: bench/count.sh points it at img2dataset-size
// copies of them). Sub-benchmarks: go (Go's decoders), native
// (libjpeg-turbo, full-size decode), native-shrink (DCT-domain scaling).
func BenchmarkPreprocessRealPhotos(b *testing.B) {
	var files []string
	if dir := os.Getenv("CONCEPTFREQ_BENCH_IMAGES"); dir != "" {
		files, _ = filepath.Glob(filepath.Join(dir, "*.jpg"))
		png, _ := filepath.Glob(filepath.Join(dir, "*.png"))
		files = append(files, png...)
		if len(files) == 0 {
			b.Fatalf("no .jpg or .png under CONCEPTFREQ_BENCH_IMAGES=%s", dir)
		}
	} else {
		files = realPhotos(b)
	}
	var datas [][]byte
	for _, f := range files {
		d, _ := os.ReadFile(f)
		datas = append(datas, d)
	}
	o := preprocess.DefaultOptions()
	for _, c := range []struct {
		name string
		d    preprocess.Decoding
	}{{"go", preprocess.Decoding{}}, {"native", preprocess.Decoding{Native: true}}, {"native-shrink", preprocess.Decoding{Native: true, ShrinkOnLoad: true}}} {
		b.Run(c.name, func(b *testing.B) {
			if c.d.Native {
				if err := preprocess.NativeError(); err != nil {
					b.Skip(err)
				}
			}
			var dst []float32
			for i := 0; i < b.N; i++ {
				var err error
				if dst, _, err = c.d.Tensor(datas[i%len(datas)], o, dst[:0]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

// BenchmarkPreprocessAllCores is the native path on every core
// (GOMAXPROCS goroutines) over the real JPEG photos: the
// preprocessing-only rate that the whole tagging path (make bench row 8,
// shards of the same JPEGs) is compared with.
func BenchmarkPreprocessAllCores(b *testing.B) {
	var datas [][]byte
	for _, f := range realPhotos(b) {
		if !strings.HasSuffix(f, ".jpg") {
			continue
		}
		d, _ := os.ReadFile(f)
		datas = append(datas, d)
	}
	d := preprocess.Decoding{ShrinkOnLoad: true}
	d.Native = preprocess.NativeError() == nil
	o := preprocess.DefaultOptions()
	b.RunParallel(func(pb *testing.PB) {
		var dst []float32
		for i := 0; pb.Next(); i++ {
			var err error
			if dst, _, err = d.Tensor(datas[i%len(datas)], o, dst[:0]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

// A 1×1 lossless WebP (VP8L), the smallest valid file.
var tinyWebP = []byte{0x52, 0x49, 0x46, 0x46, 0x1A, 0, 0, 0, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38, 0x4C,
	0x0D, 0, 0, 0, 0x2F, 0, 0, 0, 0x10, 0x07, 0x10, 0x11, 0x11, 0x88, 0x88, 0xFE, 0x07, 0}

func TestWebP(t *testing.T) {
	img, format, err := preprocess.Decode(tinyWebP, 0)
	if err != nil || format != "webp" || img.Bounds().Dx() != 1 || img.Bounds().Dy() != 1 {
		t.Fatalf("got %v %s %v", img, format, err)
	}
	o := preprocess.Options{Size: 4, Resize: preprocess.Crop, Mean: [3]float32{0, 0, 0}, Std: [3]float32{1, 1, 1}}
	if ten := preprocess.Tensor(img, o, nil); len(ten) != 48 || ten[0] != 0 {
		t.Errorf("tensor: %d values, first %v", len(ten), ten[0])
	}
}

func FuzzDecode(f *testing.F) {
	for _, p := range realPhotos(f)[:2] {
		d, _ := os.ReadFile(p)
		f.Add(d)
	}
	f.Add(tinyWebP)
	f.Add(pngHeader(3, 3))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, _, err := preprocess.Decode(data, 1<<20)
		if err != nil {
			if !errors.Is(err, preprocess.ErrDecode) && !errors.Is(err, preprocess.ErrUnsupported) && !errors.Is(err, preprocess.ErrTooLarge) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if b := img.Bounds(); b.Dx()*b.Dy() > 1<<20 {
			t.Fatalf("decoded %v over the budget", b)
		}
	})
}
