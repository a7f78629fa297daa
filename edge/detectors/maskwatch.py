"""This project's own face detector: YuNet fine-tuned on doorway-like views of masked and bare faces.

Trained by ``python -m train.detector`` (docs/detector.md), shipped inside the package as a bundle
(``edge/models/detectors/maskwatch``: the ONNX, its manifest and licence), so a device detects with it offline. A
``--detector-dir`` that holds a detector bundle (a newly trained one) is used instead of the packaged one.
"""

from pathlib import Path

from . import bundle, yunet_litert
from .base import DETECTORS
from .yunet import YunetConfig, YunetDetector


def bundle_dir(model_dir: Path | None) -> Path:
    """The bundle to load: ``model_dir`` when it holds one, else the packaged one."""
    return Path(model_dir) if model_dir is not None and bundle.is_bundle(Path(model_dir)) else bundle.PACKAGED


@DETECTORS.register("maskwatch")
class MaskwatchDetector(YunetDetector):
    name = "maskwatch"
    summary = ("this project's YuNet, trained for doorways: finds masked faces nearly as often as bare ones and "
               "counts more people at a door right than stock YuNet (packaged)")
    # Every 3rd frame with the motion gate and regions counted what every frame counts (make walkthrough).
    preset = {"detect_every": 3, "motion_gate": True, "motion_regions": True}
    files = ()
    packaged = bundle.PACKAGED
    # The default: on the walk-through (docs/detector.md) it counts 265 of 316 walk-up people right to stock
    # YuNet's 259, with as many false people over every clip kind (9 to 9).
    auto_rank = 0
    # Its bundle's int8 twin too, by name: a third faster, fewer people counted right (docs/detector.md).
    runtimes = ("litert-int8", "litert", "opencv")

    @classmethod
    def available(cls, model_dir: Path) -> bool:
        return bundle.is_bundle(bundle_dir(model_dir))

    @classmethod
    def from_dir(cls, model_dir: Path, max_side: int | None, runtime: str = "auto", **score) -> "MaskwatchDetector":
        folder = bundle_dir(model_dir)
        manifest, model = bundle.load(folder)
        bundle.selftest(manifest, model)
        int8 = None
        if runtime == "litert-int8" and yunet_litert.available():
            int8 = bundle.int8_of(manifest, folder)
            if int8 is not None:
                bundle.selftest(manifest, int8, int8=True)
        return cls(manifest, model, max_side or manifest.max_side, runtime=runtime, int8=int8, **score)

    def __init__(self, manifest: bundle.DetectorManifest, model: Path, max_side: int, min_score: float | None = None,
                 runtime: str = "auto", int8: Path | None = None):
        super().__init__(YunetConfig(model.parent, bundle.NMS_IOU), max_side,
                         manifest.min_score if min_score is None else min_score, model=model, runtime=runtime,
                         int8=int8)
        self.face_score = manifest.face_score
        self.manifest = manifest
