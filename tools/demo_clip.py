"""Make the demo clip: two people walk through a doorway, one without a mask, one with.

Usage: python tools/demo_clip.py OUT.mp4

The face is the astronaut photo that ships with scikit-image (``skimage.data.astronaut``),
a real photograph, so the demo needs no download; the mask is drawn on.
"""

import argparse
import sys

import cv2
import numpy as np
from skimage import data

FRAME = (480, 640)
FACE = 300  # px on screen: a camera beside the door sees faces large


def people():
    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)[0:250, 125:375]
    unmasked = cv2.resize(photo, (FACE, FACE), interpolation=cv2.INTER_AREA)
    masked = unmasked.copy()
    # A surgical mask over nose, mouth and chin, with ear loops.
    s = FACE / 250
    outline = (np.array([[62, 118], [188, 118], [200, 160], [175, 215], [125, 232], [75, 215], [50, 160]]) * s)
    cv2.fillPoly(masked, [outline.astype(np.int32)], (235, 206, 150))
    for y in (140, 175, 200):
        cv2.line(masked, (int(70 * s), int(y * s)), (int(180 * s), int(y * s)), (200, 170, 120), 2)
    cv2.line(masked, (int(62 * s), int(125 * s)), (int(40 * s), int(110 * s)), (230, 230, 230), 3)
    cv2.line(masked, (int(188 * s), int(125 * s)), (int(210 * s), int(110 * s)), (230, 230, 230), 3)
    return unmasked, masked


def main(path: str) -> None:
    unmasked, masked = people()
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 15, FRAME[::-1])
    if not writer.isOpened():
        sys.exit(f"tools/demo_clip.py: error: cannot write {path} — check that its folder exists and is writable")
    background = np.full((*FRAME, 3), (70, 80, 90), np.uint8)
    cv2.rectangle(background, (150, 20), (490, 480), (50, 55, 60), 8)  # the door frame
    for person in (unmasked, masked):
        for step in range(45):  # walking in, pausing, walking through
            frame = background.copy()
            x = int(40 + step * (640 - FACE - 80) / 44)
            frame[120:120 + FACE, x:x + FACE] = person
            writer.write(frame)
        for _ in range(10):
            writer.write(background)
    writer.release()
    print(f"wrote {path}: 110 frames, one person without a mask, then one with")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="tools/demo_clip.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="the clip to write (.mp4)")
    path = parser.parse_args().out
    if not path.lower().endswith((".mp4", ".m4v", ".mov")):
        parser.error(f"{path} does not end in .mp4: the clip is written as MPEG-4")
    main(path)
