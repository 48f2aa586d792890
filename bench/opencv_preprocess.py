"""OpenCV doing the image side's preprocessing, a reference row of make bench.

cv2.imdecode (libjpeg-turbo / libpng), BGR -> RGB, cv2.resize to 384x384
(INTER_AREA when shrinking, INTER_LINEAR when enlarging: OpenCV's closest to
an antialiased bilinear filter, as img2dataset resizes), scale to [0, 1],
normalise with the ImageNet mean and std, CHW float32: what
models/preprocess does with DefaultOptions. One core (cv2.setNumThreads(1)).

    /usr/bin/python3 bench/opencv_preprocess.py FOLDER SECONDS
prints one line: images/s.
"""

import cv2
import numpy as np

from preprocess_rate import rate

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
SIZE = 384


def tensor(data):
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    h, w = img.shape[:2]
    interp = cv2.INTER_AREA if w > SIZE and h > SIZE else cv2.INTER_LINEAR
    img = cv2.resize(img, (SIZE, SIZE), interpolation=interp)
    x = img.astype(np.float32) / 255.0
    return ((x - MEAN) / STD).transpose(2, 0, 1).copy()


def main():
    cv2.setNumThreads(1)
    rate(tensor)


if __name__ == "__main__":
    main()
