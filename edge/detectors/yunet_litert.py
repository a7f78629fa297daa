"""YuNet's graph on LiteRT: the faces ``cv2.FaceDetectorYN`` finds, in about half its time on one CPU thread.

A YuNet ONNX (stock, or this project's bundle) may have a *twin* beside it: the same weights as a float
TFLite file of the same name (``detector.tflite`` beside ``detector.onnx``), written by
``python -m train.yunet_keras --tflite``. Where LiteRT is installed, the YuNet detectors run the twin and decode
its raw heads here exactly as OpenCV does (padding to a multiple of 32, sqrt(cls * obj), boxes and landmarks
per stride, NMS), after checking it finds the ONNX's own faces on the self-test photo. Float, not int8:
full-integer quantisation lost 7 of 245 faces at a score of 0.5 (docs/detector.md).
"""

import importlib.util
from pathlib import Path

import cv2
import numpy as np

STRIDES = (8, 16, 32)
DIVISOR = 32  # FaceDetectorYN pads its input to a multiple of the largest stride


def available() -> bool:
    return importlib.util.find_spec("ai_edge_litert") is not None


def twin_of(model: Path) -> Path | None:
    """The TFLite twin of a YuNet ONNX, if there is one."""
    twin = Path(model).with_suffix(".tflite")
    return twin if twin.is_file() else None


def priors(height: int, width: int) -> np.ndarray:
    """Rows (column, row, stride) of every output row of a ``height`` x ``width`` input, in the heads' order:
    stride 8, 16, 32, row by row."""
    rows = []
    for stride in STRIDES:
        row, column = np.mgrid[0:-(-height // stride), 0:-(-width // stride)]
        rows.append(np.column_stack([column.ravel(), row.ravel(), np.full(column.size, stride)]))
    return np.vstack(rows).astype(np.float32)


def decode(heads: dict[str, np.ndarray], priors: np.ndarray, score_threshold: float, nms_threshold: float,
           top_k: int) -> np.ndarray | None:
    """FaceDetectorYN's rows (x, y, w, h, five landmarks' x and y, score) from the raw heads, or None."""
    def joined(head):
        return np.concatenate([heads[f"{head}_{s}"].reshape(-1, heads[f"{head}_{s}"].shape[-1]) for s in STRIDES])

    cls, obj, bbox, kps = (joined(h) for h in ("cls", "obj", "bbox", "kps"))
    score = np.sqrt(np.clip(cls[:, 0], 0, 1) * np.clip(obj[:, 0], 0, 1))
    keep = np.flatnonzero(score >= score_threshold)
    if len(keep) == 0:
        return None
    grid, stride = priors[keep, :2], priors[keep, 2:3]
    centre = (grid + bbox[keep, :2]) * stride
    size = np.exp(bbox[keep, 2:4]) * stride
    landmarks = (kps[keep].reshape(-1, 5, 2) + grid[:, None, :]) * stride[:, None, :]
    rows = np.hstack([centre - size / 2, size, landmarks.reshape(-1, 10), score[keep, None]]).astype(np.float32)
    if len(rows) == 1:
        return rows
    # OpenCV overlaps the boxes truncated to whole pixels: two boxes near the NMS threshold fare alike here
    chosen = np.asarray(cv2.dnn.NMSBoxes(np.trunc(rows[:, :4]).tolist(), rows[:, 14].tolist(), score_threshold,
                                         nms_threshold, top_k=top_k), dtype=int).reshape(-1)
    return rows[chosen]


class LitertYunet:
    """A YuNet TFLite twin run by LiteRT: ``detect(frame)`` gives what FaceDetectorYN.detect's faces are."""

    def __init__(self, twin: Path, score_threshold: float, nms_threshold: float, top_k: int = 5000,
                 threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        self.score_threshold, self.nms_threshold, self.top_k = score_threshold, nms_threshold, top_k
        self._interpreter = Interpreter(model_path=str(twin), num_threads=threads or cv2.getNumThreads())
        self._input = self._interpreter.get_input_details()[0]
        # the heads by their Keras names: a signature keeps them, the converted tensors' own names do not
        outputs = self._interpreter.get_signature_runner().get_output_details()
        self._outputs = {name: detail["index"] for name, detail in outputs.items()}
        self._shape: tuple[int, int] | None = None
        self._priors = np.zeros((0, 3), np.float32)

    def detect(self, frame_bgr: np.ndarray) -> np.ndarray | None:
        height, width = frame_bgr.shape[:2]
        padded = (-(-height // DIVISOR) * DIVISOR, -(-width // DIVISOR) * DIVISOR)
        if padded != self._shape:
            self._interpreter.resize_tensor_input(self._input["index"], [1, *padded, 3])
            self._interpreter.allocate_tensors()
            self._shape, self._priors = padded, priors(*padded)
        image = np.zeros((1, *padded, 3), np.float32)
        image[0, :height, :width] = frame_bgr
        self._interpreter.set_tensor(self._input["index"], image)
        self._interpreter.invoke()
        heads = {name: self._interpreter.get_tensor(index) for name, index in self._outputs.items()}
        return decode(heads, self._priors, self.score_threshold, self.nms_threshold, self.top_k)
