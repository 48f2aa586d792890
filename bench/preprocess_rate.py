"""The timing loop of bench/pillow_preprocess.py and bench/opencv_preprocess.py.

rate(tensor) reads the .jpg and .png files of the folder in argv[1] into
memory, calls tensor(bytes) on them in turn for argv[2] seconds and prints
one line: images/s.
"""
import glob
import os
import sys
import time


def rate(tensor):
    folder, seconds = sys.argv[1], float(sys.argv[2])
    files = sorted(glob.glob(os.path.join(folder, "*.jpg")) + glob.glob(os.path.join(folder, "*.png")))
    datas = [open(f, "rb").read() for f in files]
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        tensor(datas[n % len(datas)])
        n += 1
    print(f"{n / (time.perf_counter() - start):.1f}")
