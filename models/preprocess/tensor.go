package preprocess

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"strconv"
	"strings"
)

// Resize modes.
const (
	Squash = "squash" // resize to size×size ignoring aspect ratio (the study's Resize((384,384)))
	Crop   = "crop"   // resize the shorter side to size, then centre-crop size×size
)

// ImageNet normalisation, the default.
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// Options describe a model's expected input.
type Options struct {
	Size      int
	Resize    string
	Mean, Std [3]float32
}

// DefaultOptions are RAM++'s: 384×384 squash, ImageNet mean/std.
func DefaultOptions() Options {
	return Options{Size: 384, Resize: Squash, Mean: ImageNetMean, Std: ImageNetStd}
}

// CLIP's normalisation, and CLIPOptions: 224×224, shorter side resized
// then centre-cropped (open_clip's default transform).
var (
	CLIPMean = [3]float32{0.48145466, 0.4578275, 0.40821073}
	CLIPStd  = [3]float32{0.26862954, 0.26130258, 0.27577711}
)

// CLIPOptions are the input options of OpenAI CLIP / open_clip ViT models.
func CLIPOptions() Options {
	return Options{Size: 224, Resize: Crop, Mean: CLIPMean, Std: CLIPStd}
}

// Overrides are preprocessing settings given as text (model metadata or a
// user's settings); an empty field (or Size 0) keeps the value it is applied
// to.
type Overrides struct {
	Size      string
	Resize    string
	Mean, Std string
}

// With returns o with the overrides applied, validated.
func (o Options) With(ov Overrides) (Options, error) {
	if ov.Size != "" {
		n, err := strconv.Atoi(strings.TrimSpace(ov.Size))
		if err != nil {
			return o, fmt.Errorf("preprocess: input size %q: %v", ov.Size, err)
		}
		o.Size = n
	}
	if ov.Resize != "" {
		o.Resize = ov.Resize
	}
	for _, f := range []struct {
		s   string
		dst *[3]float32
	}{{ov.Mean, &o.Mean}, {ov.Std, &o.Std}} {
		if f.s == "" {
			continue
		}
		v, err := ParseTriple(f.s)
		if err != nil {
			return o, err
		}
		*f.dst = v
	}
	return o, o.Validate()
}

// Validate checks the options.
func (o Options) Validate() error {
	if o.Size <= 0 || o.Size > 8192 {
		return fmt.Errorf("preprocess: input size %d out of range", o.Size)
	}
	if o.Resize != Squash && o.Resize != Crop {
		return fmt.Errorf("preprocess: resize mode %q (want %s or %s)", o.Resize, Squash, Crop)
	}
	for _, s := range o.Std {
		if s <= 0 {
			return fmt.Errorf("preprocess: std %v must be positive", o.Std)
		}
	}
	return nil
}

// ParseTriple parses "0.485,0.456,0.406".
func ParseTriple(s string) ([3]float32, error) {
	var out [3]float32
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return out, fmt.Errorf("preprocess: %q: want three comma-separated numbers", s)
	}
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 32)
		if err != nil {
			return out, fmt.Errorf("preprocess: %q: %v", s, err)
		}
		out[i] = float32(v)
	}
	return out, nil
}

// planes converts an image to three float32 planes in [0,1], row-major.
func planes(img image.Image) (r, g, b []float32, w, h int) {
	bnd := img.Bounds()
	w, h = bnd.Dx(), bnd.Dy()
	r, g, b = make([]float32, w*h), make([]float32, w*h), make([]float32, w*h)
	switch src := img.(type) {
	case *image.YCbCr:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				yi := src.YOffset(x+bnd.Min.X, y+bnd.Min.Y)
				ci := src.COffset(x+bnd.Min.X, y+bnd.Min.Y)
				rr, gg, bb := color.YCbCrToRGB(src.Y[yi], src.Cb[ci], src.Cr[ci])
				i := y*w + x
				r[i], g[i], b[i] = float32(rr)/255, float32(gg)/255, float32(bb)/255
			}
		}
	case *image.RGBA:
		for y := 0; y < h; y++ {
			row := src.Pix[src.PixOffset(bnd.Min.X, y+bnd.Min.Y):]
			for x := 0; x < w; x++ {
				i := y*w + x
				r[i], g[i], b[i] = float32(row[4*x])/255, float32(row[4*x+1])/255, float32(row[4*x+2])/255
			}
		}
	default:
		// Straight (non-premultiplied) colour, as PIL's convert("RGB") keeps it.
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.NRGBAModel.Convert(img.At(x+bnd.Min.X, y+bnd.Min.Y)).(color.NRGBA)
				i := y*w + x
				r[i], g[i], b[i] = float32(c.R)/255, float32(c.G)/255, float32(c.B)/255
			}
		}
	}
	return r, g, b, w, h
}

// weights are PIL's antialiased bilinear (triangle) filter taps for
// resampling in → out pixels over the source window [lo, lo+span).
type taps struct {
	start []int
	w     [][]float32
}

func bilinearTaps(in int, lo, span float64, out int) taps {
	scale := span / float64(out)
	support := math.Max(scale, 1) // the filter widens when downscaling
	t := taps{start: make([]int, out), w: make([][]float32, out)}
	for o := 0; o < out; o++ {
		center := lo + (float64(o)+0.5)*scale
		xmin := int(math.Max(math.Floor(center-support+0.5), 0))
		xmax := int(math.Min(math.Floor(center+support+0.5), float64(in)))
		var ws []float32
		sum := 0.0
		for x := xmin; x < xmax; x++ {
			v := 1 - math.Abs((float64(x)-center+0.5)/support)
			if v < 0 {
				v = 0
			}
			ws = append(ws, float32(v))
			sum += v
		}
		if sum > 0 {
			for i := range ws {
				ws[i] = float32(float64(ws[i]) / sum)
			}
		}
		t.start[o], t.w[o] = xmin, ws
	}
	return t
}

// resample resizes one plane (w×h) to ow×oh with the given taps,
// separably: horizontal then vertical. Only the source rows the vertical taps
// reach are resampled horizontally.
func resample(p []float32, w, h int, tx, ty taps, ow, oh int, tmp []float32) []float32 {
	rowLo, rowHi := h, 0
	for o := 0; o < oh; o++ {
		rowLo = min(rowLo, ty.start[o])
		rowHi = max(rowHi, ty.start[o]+len(ty.w[o]))
	}
	for y := rowLo; y < rowHi; y++ {
		row := p[y*w : (y+1)*w]
		for o := 0; o < ow; o++ {
			var s float32
			for k, wt := range tx.w[o] {
				s += wt * row[tx.start[o]+k]
			}
			tmp[y*ow+o] = s
		}
	}
	out := make([]float32, ow*oh)
	for o := 0; o < oh; o++ {
		for k, wt := range ty.w[o] {
			src := tmp[(ty.start[o]+k)*ow:]
			dst := out[o*ow:]
			for x := 0; x < ow; x++ {
				dst[x] += wt * src[x]
			}
		}
	}
	return out
}

// Tensor appends the image's normalised CHW tensor (3·Size·Size values) to
// dst and returns it.
func Tensor(img image.Image, o Options, dst []float32) []float32 {
	r, g, b, w, h := planes(img)
	x0, xs, y0, ys := 0.0, float64(w), 0.0, float64(h)
	if o.Resize == Crop {
		// Shorter side to Size, then the centre Size×Size: equivalently,
		// resample the centred square window of the source.
		side := math.Min(float64(w), float64(h))
		x0, xs = (float64(w)-side)/2, side
		y0, ys = (float64(h)-side)/2, side
	}
	tx := bilinearTaps(w, x0, xs, o.Size)
	ty := bilinearTaps(h, y0, ys, o.Size)
	tmp := make([]float32, o.Size*h)
	for c, p := range [][]float32{r, g, b} {
		out := resample(p, w, h, tx, ty, o.Size, o.Size, tmp)
		m, s := o.Mean[c], o.Std[c]
		for i, v := range out {
			out[i] = (v - m) / s
		}
		dst = append(dst, out...)
	}
	return dst
}
