"""A model bundle proves itself when it is loaded.

Export draws a few pictures from seeds, runs every artifact on them through the device's own crop
and input path, and writes the probabilities, by label name, into the manifest. The device draws
the same pictures, runs the artifact and compares: a manifest whose labels are in another order
than the model's outputs, or whose input or preprocessing belong to another model, gives other
numbers and is refused before it can count anyone wrongly.

The pictures are coloured noise, drawn with numpy alone, so they hold no face and need no file.
Seeds are chosen where the model is sure of a label: a sure answer is the same on every CPU,
and swapping two labels moves it by nearly 1. Two fingerprints come with them: the mean pixel of
each crop (the crop and resize path) and a digest of the fields that decide a count (labels,
violation label, thresholds, input, crop), so a hand edit of any of them is found too.
"""

import dataclasses
import hashlib
import json

import cv2
import numpy as np

from .crops import CropRule, crop_face
from .errors import ModelMismatchError

SIZE = 128  # px, the square picture a seed draws
BOX = (24, 24, 80, 80)  # the "face" box in it, cut with the manifest's crop rule
TOLERANCE = 0.1  # onnxruntime's int8 kernels differ between CPUs by a few hundredths on sure answers
# Seeds export chooses from. A model with a not_face label calls nearly all noise no face: of 256 pictures two
# were a face label's (both with_mask), of 4096 a few dozen were, of all three.
CANDIDATES = range(4096)


def picture(seed: int) -> np.ndarray:
    """The BGR picture of ``seed`` (recipe 1): blocks of random colour, blurred by the resize, plus noise."""
    rng = np.random.default_rng(seed)
    cells = int(rng.integers(2, 9))
    coarse = rng.integers(0, 256, (cells, cells, 3)).astype(np.float32)
    frame = cv2.resize(coarse, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)
    frame += rng.normal(0.0, 12.0, frame.shape).astype(np.float32)
    return np.clip(frame, 0, 255).astype(np.uint8)


CROP_TOLERANCE = 0.5  # grey levels: resizes differ by a level at most between CPUs, a changed crop by many


def contract(manifest) -> str:
    """sha256 of the fields that decide what a face is counted as; any edit after export changes it."""
    fields = {"labels": manifest.labels, "violation_label": manifest.violation_label,
              "threshold": manifest.threshold, "input_size": manifest.input_size, "layout": manifest.layout,
              "pixel_format": manifest.pixel_format, "input_range": manifest.input_range,
              "crop": dataclasses.asdict(manifest.crop)}
    own = {a.file: a.threshold for a in manifest.artifacts if a.threshold is not None}
    if own:  # only then: bundles sealed before schema 4 keep their digest
        fields["artifact_thresholds"] = own
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def crop_means(manifest, seeds) -> list[float]:
    return [round(float(c.mean()), 3) for c in crops(manifest, seeds)]


def crops(manifest, seeds) -> np.ndarray:
    rule = CropRule(manifest.crop.margin, manifest.crop.square)
    return np.stack([crop_face(picture(seed), BOX, rule, manifest.input_size) for seed in seeds])


def results(classifier, seeds) -> list[dict[str, float]]:
    """The classifier's probabilities for each seed's picture, by label name."""
    probabilities = classifier.classify(crops(classifier.manifest, seeds))
    return [{label: round(float(p), 6) for label, p in zip(classifier.manifest.labels, row, strict=True)}
            for row in probabilities]


def choose(classifier, per_label: int = 2) -> list[int]:
    """Seeds whose pictures ``classifier`` is surest of, ``per_label`` for each label it calls surest."""
    probabilities = classifier.classify(crops(classifier.manifest, CANDIDATES))
    chosen: list[int] = []
    for index in range(probabilities.shape[1]):
        for seed in np.argsort(-probabilities[:, index]):
            if len([s for s in chosen if probabilities[s].argmax() == index]) >= per_label:
                break
            if int(seed) not in chosen and probabilities[seed].argmax() == index:
                chosen.append(int(seed))
    return sorted(chosen)


def discriminates(expected: list[dict[str, float]], tolerance: float) -> bool:
    """Whether swapping any two labels would move some expected probability beyond ``tolerance``."""
    labels = list(expected[0])
    return all(any(abs(e[a] - e[b]) > 2 * tolerance for e in expected)
               for i, a in enumerate(labels) for b in labels[i + 1:])


def verify(classifier) -> bool:
    """Run the manifest's self-test on ``classifier``; False when the manifest has none (version 1).

    Raises ModelMismatchError naming the first picture that came out differently."""
    manifest, artifact = classifier.manifest, classifier.artifact
    if manifest.selftest is None:
        return False
    test = manifest.selftest
    if contract(manifest) != test.contract:
        raise ModelMismatchError(
            f"{artifact.file} fails its self-test: its manifest's labels, threshold, input or crop were changed "
            "after export — re-export the model (or `python -m export.seal` it, if the change was meant)")
    for seed, got, want in zip(test.seeds, crop_means(manifest, test.seeds), test.crop_means, strict=True):
        if abs(got - want) > CROP_TOLERANCE:
            raise ModelMismatchError(
                f"{artifact.file} fails its self-test: test picture {seed} crops to a mean of {got:.2f}, at export "
                f"{want:.2f} — this runtime cuts faces differently from the one that exported the model; "
                "install matching versions")
    for seed, got, want in zip(test.seeds, results(classifier, test.seeds), artifact.selftest, strict=True):
        label = max(want, key=lambda name: abs(got[name] - want[name]))
        if abs(got[label] - want[label]) > test.tolerance:
            raise ModelMismatchError(
                f"{artifact.file} fails its self-test: on test picture {seed} it gives {label} "
                f"{got[label]:.3f} where export measured {want[label]:.3f} — the manifest's labels, input or "
                "crop do not belong to this model; re-export it, or copy the bundle again")
    return True
