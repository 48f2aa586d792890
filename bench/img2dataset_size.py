"""Writes img2dataset-size copies of the real photos for make bench:
each photo resized as img2dataset's default does (image_size 256,
resize_mode border: the longer side to 256, padded to 256x256 with black),
JPEG quality 95 (its default encode_quality).

    /usr/bin/python3 bench/img2dataset_size.py ../shared/data/images OUT_DIR
"""
import glob
import os
import sys

from PIL import Image


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    for f in sorted(glob.glob(os.path.join(src, "*.jpg")) + glob.glob(os.path.join(src, "*.png"))):
        img = Image.open(f).convert("RGB")
        scale = 256 / max(img.size)
        w, h = max(1, round(img.size[0] * scale)), max(1, round(img.size[1] * scale))
        img = img.resize((w, h), Image.BILINEAR)
        canvas = Image.new("RGB", (256, 256))
        canvas.paste(img, ((256 - w) // 2, (256 - h) // 2))
        name = os.path.splitext(os.path.basename(f))[0] + ".jpg"
        canvas.save(os.path.join(out, name), quality=95)


if __name__ == "__main__":
    main()
