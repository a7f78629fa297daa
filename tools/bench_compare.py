"""edge-run against the usual recipe, on the same frames in one run (``make bench-compare``).

Usage: python tools/bench_compare.py --weights BACKBONE.h5 --detector-dir DIR [--run runs/m128]
       [--peer aizoo=face_mask_detection.tflite] [--clip demo.mp4] [--out bench-compare.json]

The usual recipe, as the face-mask projects people copy run it: OpenCV's res10 SSD at 300x300
on every frame, then a float Keras MobileNetV2 at 224 px called once per face through
TensorFlow. Its weights do not change its speed, so no training run is needed: by default it is
built from the ImageNet backbone with the usual three-class head; ``--run`` builds it from a
trained run's weights instead (MobileNetV2 is fully convolutional, so they load at 224). Both
ways the copies call it are timed, ``model.predict(x)`` and ``model(x, training=False)``, and the
faster one is the reference, so the ratios are the least favourable to edge-run. Beside it,
``--peer`` runs the AIZOO one-stage mask detector (finds faces and says mask / no mask in one
pass, float TFLite at 260x260, anchors decoded and NMS) on every frame, the other design people
copy. Against them: edge-run's defaults (its preset: YuNet, detection every 3rd frame with
tracking between, motion gate, a search of only the changed parts of the frame, settled tracks
not re-classified) and ``exact`` (detection on every whole frame, as the others do). Every part
runs on one thread (TensorFlow, OpenCV, the classifiers). With ``--clip`` the counts of both
settings on the looped clip are compared as well: the fast path must not change them. Needs the
workstation venv (TensorFlow).
"""

import argparse
import dataclasses
import json
import sys
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from edge import config as configs
from edge.benchmark import synthetic_frames
from edge.config import SpeedConfig
from edge.console import Parser, whole_number
from edge.pipeline import Pipeline
from edge.runtime import load_models, pipeline_for

EXACT = SpeedConfig(preset="exact")


def frames_with_faces(per_count: int) -> list[np.ndarray]:
    """640x480 frames with 1, 2 and 3 faces, ``per_count`` of each."""
    return [frame for faces in (1, 2, 3) for frame in synthetic_frames(faces, per_count)]


class UsualRecipe:
    def __init__(self, weights: Path, run: Path | None, detector_dir: Path, call: str):
        from train.model import build_model

        if run is None:
            self.model = build_model(3, 224, str(weights))
        else:
            import keras

            trained = keras.models.load_model(run / "model.keras")
            self.model = build_model(trained.output_shape[-1], 224, None)
            self.model.set_weights(trained.get_weights())
        self.net = cv2.dnn.readNetFromCaffe(str(detector_dir / "deploy.prototxt"),
                                            str(detector_dir / "res10_300x300_ssd_iter_140000.caffemodel"))
        self.call = call

    def process(self, frame: np.ndarray) -> int:
        height, width = frame.shape[:2]
        blob = cv2.dnn.blobFromImage(cv2.resize(frame, (300, 300)), 1.0, (300, 300), (104.0, 177.0, 123.0))
        self.net.setInput(blob)
        detections = self.net.forward()[0, 0]
        faces = 0
        for row in detections[detections[:, 2] > 0.5]:
            x1, y1, x2, y2 = (row[3:7] * [width, height, width, height]).astype(int)
            x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)
            if x2 <= x1 or y2 <= y1:
                continue
            face = cv2.resize(cv2.cvtColor(frame[y1:y2, x1:x2], cv2.COLOR_BGR2RGB), (224, 224))
            batch = face[None].astype(np.float32)
            if self.call == "predict":
                self.model.predict(batch, verbose=0)
            else:
                self.model(batch, training=False)
            faces += 1
        return faces


def timed(process, frames, warmup: int = 10) -> float:
    """Frames per second over ``frames``, after ``warmup`` untimed ones."""
    for frame in frames[:warmup]:
        process(frame)
    started = time.perf_counter()
    for frame in frames:
        process(frame)
    return len(frames) / (time.perf_counter() - started)


def edge_pipeline(detector_dir: Path, speed: SpeedConfig) -> Pipeline:
    """edge-run's pipeline with its default settings but ``speed``, built by edge-run's own loader."""
    config = dataclasses.replace(configs.from_dict({"detector": {"model_dir": str(detector_dir)}}), speed=speed)
    return pipeline_for(config, load_models(config))


def counts_on(clip: Path, loops: int, detector_dir: Path, speed: SpeedConfig) -> dict:
    capture = cv2.VideoCapture(str(clip))
    frames = []
    while (frame := capture.read())[0]:
        frames.append(frame[1])
    capture.release()
    pipeline = edge_pipeline(detector_dir, speed)
    counted = Counter()
    for _ in range(loops):
        for frame in frames:
            counted.update(person.label for person in pipeline.process(frame).counted)
    return dict(counted)


def main(argv=None) -> int:
    p = Parser(prog="tools/bench_compare.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, required=True, help="the ImageNet MobileNetV2 no-top weights file")
    p.add_argument("--run", type=Path, default=None, help="a training run (model.keras) whose weights the recipe runs")
    p.add_argument("--detector-dir", type=Path, required=True, help="SSD and YuNet files")
    p.add_argument("--peer", default=None, metavar="aizoo=TFLITE", help="the AIZOO one-stage detector, run alike")
    p.add_argument("--frames", type=whole_number(1), default=60, help="frames per face count (1, 2, 3 faces)")
    p.add_argument("--clip", type=Path, default=None, help="a clip with known people, for the count check")
    p.add_argument("--loops", type=whole_number(1), default=5, help="times the clip is played for the count check")
    p.add_argument("--out", type=Path, default=Path("bench-compare.json"))
    args = p.parse_args(argv)
    if args.run is not None and not (args.run / "model.keras").is_file():
        p.error(f"no trained model at {args.run / 'model.keras'} — leave RUN out to time the recipe on the "
                "ImageNet backbone (its speed does not depend on its weights), or `make train` first")
    if not args.weights.is_file():
        p.error(f"no backbone weights at {args.weights} — give WEIGHTS=FILE (../shared/models/backbone)")
    peer = args.peer.split("=", 1)[1] if args.peer and "=" in args.peer else args.peer
    if peer is not None and not Path(peer).is_file():
        p.error(f"no peer detector at {peer} — give --peer aizoo=FILE (../shared/models/peers/aizoo)")

    import tensorflow as tf

    # One thread for every part, as the targets are set; TensorFlow takes this only before its first op.
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    cv2.setNumThreads(1)  # every detector here, and edge-run's, runs on OpenCV
    frames = frames_with_faces(args.frames)
    results = {}
    contenders = [
        ("reference_call", lambda: UsualRecipe(args.weights, args.run, args.detector_dir, "call").process),
        ("reference_predict", lambda: UsualRecipe(args.weights, args.run, args.detector_dir, "predict").process),
        ("default", lambda: edge_pipeline(args.detector_dir, SpeedConfig()).process),
        ("exact", lambda: edge_pipeline(args.detector_dir, EXACT).process),
    ]
    if peer is not None:
        from train.detector_eval import Aizoo

        contenders.append(("aizoo", lambda: Aizoo(Path(peer))))
    for name, make in contenders:
        print(f"{name} on {len(frames)} frames ...", file=sys.stderr, flush=True)
        results[f"{name}_fps"] = round(timed(make(), frames), 2)
    results["reference_fps"] = max(results["reference_call_fps"], results["reference_predict_fps"])
    results["ratio_default"] = round(results["default_fps"] / results["reference_fps"], 2)
    results["ratio_exact"] = round(results["exact_fps"] / results["reference_fps"], 2)
    if peer is not None:
        results["ratio_default_vs_aizoo"] = round(results["default_fps"] / results["aizoo_fps"], 2)
        results["ratio_exact_vs_aizoo"] = round(results["exact_fps"] / results["aizoo_fps"], 2)
    results["settings"] = {"reference_weights": str(args.run / "model.keras") if args.run else
                           f"{args.weights} + an untrained head (speed only)",
                           "default": SpeedConfig().settings("yunet"), "exact": EXACT.settings("yunet"),
                           "detector": "yunet", "backend": "litert-int8", "threads": 1,
                           "aizoo": "float TFLite 260x260 on every frame, decoding + NMS" if peer else None,
                           "frames": "640x480, 1-3 faces (edge-bench's synthetic frames)"}
    if args.clip:
        print(f"counting on {args.clip} x{args.loops} ...", file=sys.stderr, flush=True)
        results["counts"] = {name: counts_on(args.clip, args.loops, args.detector_dir, speed)
                             for name, speed in (("default", SpeedConfig()), ("exact", EXACT))}
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
