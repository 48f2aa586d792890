// Package preprocess decodes images and turns them into the float32 NCHW
// tensors image taggers take: RGB, resized (squash, like torchvision's
// Resize((s, s)) on a PIL image, or shorter side + centre crop) with PIL's
// antialiased bilinear filter, normalised by mean and std.
package preprocess

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/draw"
	_ "image/gif" // first frame
	_ "image/jpeg"
	_ "image/png"

	_ "golang.org/x/image/webp"
)

// Errors for images that cannot be used; each maps to a reject reason.
var (
	ErrUnsupported = errors.New("preprocess: unsupported image format")
	ErrTooLarge    = errors.New("preprocess: image exceeds the pixel budget")
	ErrDecode      = errors.New("preprocess: image does not decode")
)

// DefaultMaxPixels is the default pixel budget (50 megapixels).
const DefaultMaxPixels = 50_000_000

// Decode decodes a JPEG, PNG, WebP or GIF (first frame), refusing images
// whose header declares more than maxPixels pixels before decoding them, and
// applies a JPEG's EXIF orientation.
func Decode(data []byte, maxPixels int64) (image.Image, string, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return nil, "", fmt.Errorf("%w (%d bytes, starts %q)", ErrUnsupported, len(data), head(data))
		}
		return nil, "", fmt.Errorf("%w: header: %v", ErrDecode, err)
	}
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	if int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return nil, format, fmt.Errorf("%w: %s %dx%d = %d pixels, budget %d", ErrTooLarge, format, cfg.Width, cfg.Height, int64(cfg.Width)*int64(cfg.Height), maxPixels)
	}
	if cfg.Width == 0 || cfg.Height == 0 {
		return nil, format, fmt.Errorf("%w: %s has size %dx%d", ErrDecode, format, cfg.Width, cfg.Height)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, format, fmt.Errorf("%w: %s: %v", ErrDecode, format, err)
	}
	if format == "jpeg" {
		if o := exifOrientation(data); o > 1 {
			img = orient(img, o)
		}
	}
	return img, format, nil
}

func head(b []byte) string {
	if len(b) > 8 {
		b = b[:8]
	}
	return string(b)
}

// exifOrientation returns the EXIF orientation tag (1–8) of a JPEG, or 0.
func exifOrientation(b []byte) int {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return 0
	}
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xFF {
			return 0
		}
		marker := b[i+1]
		if marker == 0xDA || marker == 0xD9 { // start of scan / end
			return 0
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return 0
		}
		seg := b[i+4 : i+2+n]
		if marker == 0xE1 && len(seg) > 14 && string(seg[:6]) == "Exif\x00\x00" {
			return tiffOrientation(seg[6:])
		}
		i += 2 + n
	}
	return 0
}

func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	off := int(bo.Uint32(t[4:]))
	if off < 8 || off+2 > len(t) {
		return 0
	}
	count := int(bo.Uint16(t[off:]))
	for k := 0; k < count; k++ {
		e := off + 2 + 12*k
		if e+12 > len(t) {
			return 0
		}
		if bo.Uint16(t[e:]) == 0x0112 {
			v := int(bo.Uint16(t[e+8:]))
			if v >= 1 && v <= 8 {
				return v
			}
			return 0
		}
	}
	return 0
}

// orientedSize is the size of a w×h image after EXIF orientation o.
func orientedSize(w, h, o int) (int, int) {
	if o >= 5 {
		return h, w
	}
	return w, h
}

// oriented is where pixel (x, y) of a w×h image goes under EXIF
// orientation o (2–8; others keep it).
func oriented(x, y, w, h, o int) (int, int) {
	switch o {
	case 2: // mirror horizontal
		return w - 1 - x, y
	case 3: // rotate 180
		return w - 1 - x, h - 1 - y
	case 4: // mirror vertical
		return x, h - 1 - y
	case 5: // transpose
		return y, x
	case 6: // rotate 90 clockwise
		return h - 1 - y, x
	case 7: // transverse
		return h - 1 - y, w - 1 - x
	case 8: // rotate 90 counter-clockwise
		return y, w - 1 - x
	}
	return x, y
}

// orient applies EXIF orientation o (2–8) so the image displays upright.
func orient(src image.Image, o int) image.Image {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	rgba := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(rgba, rgba.Bounds(), src, b.Min, draw.Src)
	dw, dh := orientedSize(w, h, o)
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			dx, dy := oriented(x, y, w, h, o)
			si := rgba.PixOffset(x, y)
			di := dst.PixOffset(dx, dy)
			copy(dst.Pix[di:di+4], rgba.Pix[si:si+4])
		}
	}
	return dst
}
