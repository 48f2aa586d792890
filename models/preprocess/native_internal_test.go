//go:build cgo

package preprocess

import (
	"image"
	"image/draw"
	"math"
	"math/rand/v2"
	"testing"
)

// The C resampler against the Go one (Tensor) on the same pixels: random
// RGB images of awkward sizes, up- and downscaled, squash and crop.
func TestNativeResamplerMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct{ w, h, size int }{{37, 53, 24}, {600, 389, 384}, {256, 256, 384}, {123, 456, 224}, {1, 1, 7}, {5, 900, 64}} {
		for _, mode := range []string{Squash, Crop} {
			img := image.NewRGBA(image.Rect(0, 0, c.w, c.h))
			for i := range img.Pix {
				img.Pix[i] = uint8(rng.IntN(256))
				if i%4 == 3 {
					img.Pix[i] = 255
				}
			}
			rgb := make([]byte, 0, c.w*c.h*3)
			for i := 0; i < len(img.Pix); i += 4 {
				rgb = append(rgb, img.Pix[i:i+3]...)
			}
			o := Options{Size: c.size, Resize: mode, Mean: ImageNetMean, Std: ImageNetStd}
			want := Tensor(img, o, nil)
			x0, xs, y0, ys := 0.0, float64(c.w), 0.0, float64(c.h)
			if mode == Crop {
				side := math.Min(float64(c.w), float64(c.h))
				x0, xs, y0, ys = (float64(c.w)-side)/2, side, (float64(c.h)-side)/2, side
			}
			var scale, bias [3]float32
			for k := range scale {
				scale[k], bias[k] = 1/(255*o.Std[k]), -o.Mean[k]/o.Std[k]
			}
			got := make([]float32, 3*c.size*c.size)
			resampleRGB(rgb, c.w, flatten(bilinearTaps(c.w, x0, xs, c.size), c.w), flatten(bilinearTaps(c.h, y0, ys, c.size), c.h),
				c.size, c.size, make([]float32, c.w*3), &scale, &bias, got)
			worst := 0.0
			for i := range want {
				worst = math.Max(worst, math.Abs(float64(got[i]-want[i])))
			}
			if worst > 1e-4 {
				t.Errorf("%dx%d → %d %s: max difference %g from the Go resampler", c.w, c.h, c.size, mode, worst)
			}
		}
	}
}

// orientRGB maps pixels as orient does.
func TestOrientRGBMatchesOrient(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 5, 3))
	for i := range src.Pix {
		src.Pix[i] = uint8(i * 7)
		if i%4 == 3 {
			src.Pix[i] = 255
		}
	}
	rgb := make([]byte, 0, 45)
	for i := 0; i < len(src.Pix); i += 4 {
		rgb = append(rgb, src.Pix[i:i+3]...)
	}
	for o := 2; o <= 8; o++ {
		want := image.NewRGBA(orient(src, o).Bounds())
		draw.Draw(want, want.Bounds(), orient(src, o), image.Point{}, draw.Src)
		dst := make([]byte, len(rgb))
		w, h := orientRGB(rgb, 5, 3, o, dst)
		if w != want.Bounds().Dx() || h != want.Bounds().Dy() {
			t.Fatalf("orientation %d: %dx%d, want %v", o, w, h, want.Bounds().Size())
		}
		for i := 0; i < w*h; i++ {
			for c := 0; c < 3; c++ {
				if dst[3*i+c] != want.Pix[4*i+c] {
					t.Fatalf("orientation %d: pixel %d channel %d = %d, want %d", o, i, c, dst[3*i+c], want.Pix[4*i+c])
				}
			}
		}
	}
}
