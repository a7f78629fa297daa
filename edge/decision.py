"""The runtime's decision rule: which label a face's class probabilities give.

One rule for the device, training, export and every evaluation, so a figure measured anywhere is the
device's figure.
"""

import numpy as np

from .policy import NOT_FACE

# p(not_face) at which a detection is taken for no face: more likely none than any face at all.
NOT_FACE_AT = 0.5


def predict_labels(probabilities, violation_index: int | None, threshold: float | None,
                   not_face_index: int | None = None):
    """Class indices: argmax, except that the violation class wins at ``threshold`` or above, and that
    with a ``not_face`` class, a face that is more likely none (``NOT_FACE_AT``) is none."""
    probabilities = np.asarray(probabilities)
    if not_face_index is not None:
        faces = probabilities.copy()
        faces[:, not_face_index] = -1.0
        predicted = predict_labels(faces, violation_index, threshold)
        return np.where(probabilities[:, not_face_index] >= NOT_FACE_AT, not_face_index, predicted)
    predicted = probabilities.argmax(axis=1)
    if violation_index is not None and threshold is not None:
        violation = probabilities[:, violation_index] >= threshold
        others = probabilities.copy()
        others[:, violation_index] = -1.0
        predicted = np.where(violation, violation_index, others.argmax(axis=1))
    return predicted


def not_face_index(labels) -> int | None:
    return list(labels).index(NOT_FACE) if NOT_FACE in labels else None
