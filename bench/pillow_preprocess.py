"""Pillow doing the image side's preprocessing, the reference row of make bench.

Decode (JPEG/PNG, converted to RGB), resize to 384x384 with Pillow's
antialiased bilinear filter (the same taps models/preprocess uses), scale to
[0, 1], normalise with the ImageNet mean and std, lay out as CHW float32:
what models/preprocess.Tensor does with DefaultOptions. One core, as the Go
benchmark row runs with -cpu=1.

    /usr/bin/python3 bench/pillow_preprocess.py ../shared/data/images 3
prints one line: images/s.
"""
import io

import numpy as np
from PIL import Image

from preprocess_rate import rate

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def tensor(data):
    img = Image.open(io.BytesIO(data)).convert("RGB").resize((384, 384), Image.BILINEAR)
    x = np.asarray(img, dtype=np.float32) / 255.0
    return ((x - MEAN) / STD).transpose(2, 0, 1).copy()


def main():
    rate(tensor)


if __name__ == "__main__":
    main()
