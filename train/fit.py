"""Training schedules: two-phase fine-tuning (the head on a frozen backbone, then the
backbone's top blocks) for the ImageNet MobileNetV2, or the whole net at once for a narrower
one whose weights were inherited; either may also learn from a teacher's probabilities."""

import sys
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from .model import augmenter, degrade, greyscale, random_blur, unfreeze_top


@dataclass(frozen=True)
class FitConfig:
    batch_size: int = 32
    head_epochs: int = 8
    head_lr: float = 1e-3
    fine_epochs: int = 8
    fine_lr: float = 1e-5
    fine_from: str = "block_13_expand"  # the top quarter of MobileNetV2
    fine_decay: bool = False  # the fine-tune rate decays to 0 (cosine) over fine_epochs, which then all run
    whole_epochs: int = 0  # instead of the two phases: the whole net, the rate decaying to 0 (cosine)
    whole_lr: float = 2e-3
    patience: int = 3
    seed: int = 0
    degrade: float = 0.0  # share of training crops made small, dim and compressed (model.degrade)
    greyscale: float = 0.0  # share of training crops turned grey, as a night-mode camera sees them


class KeepBest(keras.callbacks.Callback):
    """Holds the weights of the lowest validation loss across both phases.

    Keras' own checkpointing forgets its best score when ``fit`` is called again, so a
    fine-tune that only made things worse would otherwise overwrite a better head-only model.
    """

    def __init__(self):
        super().__init__()
        self.best_loss, self.best_epoch, self.best_weights, self.epochs_seen = np.inf, 0, None, 0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs_seen += 1
        if logs["val_loss"] < self.best_loss:
            self.best_loss, self.best_epoch = logs["val_loss"], self.epochs_seen
            # By variable path: the order of model.weights changes when layers are unfrozen.
            self.best_weights = {v.path: v.numpy() for v in self.model.weights}

    def restore(self, model: keras.Model) -> None:
        for variable in model.weights:
            variable.assign(self.best_weights[variable.path])


def class_weights(labels: np.ndarray, n_classes: int, not_face: int | None = None) -> dict[int, float]:
    """Inverse-frequency weights, averaging 1 over the samples; the ``not_face`` class weighs no more than the
    rarest face class. Its few mined negatives (85 in the first run) weighed 16 times a face there, and real
    faces were pulled into it: 25 of masks-oos's 140 unmasked ones, against 2 of 36 mined false faces missed."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    weights = {i: float(len(labels) / (n_classes * c)) if c else 0.0 for i, c in enumerate(counts)}
    if not_face is not None:
        weights[not_face] = min(weights[not_face], max(w for i, w in weights.items() if i != not_face))
    return weights


def _datasets(train_x, train_y, val_x, val_y, config: FitConfig, teacher: keras.Model | None, n_classes: int):
    """Batches of (pixels, target). With a teacher, a training target is half the one-hot label and
    half the teacher's probabilities for the same augmented picture: cross-entropy against that is
    the usual distillation loss (half label, half teacher), and its argmax is still the label."""
    augment = augmenter(config.seed)

    def augment_batch(images, labels):
        images = random_blur(tf.clip_by_value(augment(tf.cast(images, tf.float32), training=True), 0.0, 255.0))
        if teacher is None:
            return images, labels
        size = teacher.input_shape[1]
        taught = teacher(tf.image.resize(images, (size, size)), training=False)
        return images, 0.5 * tf.one_hot(labels, n_classes) + 0.5 * tf.cast(taught, tf.float32)

    train = (tf.data.Dataset.from_tensor_slices((train_x, train_y))
             .shuffle(len(train_x), seed=config.seed, reshuffle_each_iteration=True)
             .map(lambda x, y: (degrade(greyscale(x, config.greyscale), config.degrade), y),
                  num_parallel_calls=tf.data.AUTOTUNE)
             .batch(config.batch_size)
             .map(augment_batch, num_parallel_calls=tf.data.AUTOTUNE)
             .prefetch(tf.data.AUTOTUNE))
    val = (tf.data.Dataset.from_tensor_slices((val_x, val_y))
           .batch(config.batch_size)
           .map(lambda x, y: (tf.cast(x, tf.float32), y if teacher is None else tf.one_hot(y, n_classes)))
           .prefetch(tf.data.AUTOTUNE))
    return train, val


def fit(model: keras.Model, train_x, train_y, val_x, val_y, config: FitConfig,
        teacher: keras.Model | None = None, not_face: int | None = None) -> dict:
    """Train in place; leaves the best weights in ``model`` and returns history and phases."""
    n_classes = model.output_shape[-1]
    train, val = _datasets(train_x, train_y, val_x, val_y, config, teacher, n_classes)
    weights = class_weights(train_y, n_classes, not_face)
    keep_best = KeepBest()
    verbose = 1 if sys.stdout.isatty() else 2
    history: dict[str, list[float]] = {}
    phase_starts = []
    if config.whole_epochs > 0:
        steps = config.whole_epochs * int(np.ceil(len(train_x) / config.batch_size))
        phases = [("whole", config.whole_epochs, keras.optimizers.schedules.CosineDecay(config.whole_lr, steps))]
    else:
        steps = config.fine_epochs * int(np.ceil(len(train_x) / config.batch_size))
        fine_lr = keras.optimizers.schedules.CosineDecay(config.fine_lr, steps) if config.fine_decay else config.fine_lr
        phases = [("head", config.head_epochs, config.head_lr), ("fine-tune", config.fine_epochs, fine_lr)]
    for phase, epochs, learning_rate in phases:
        if epochs <= 0:
            continue
        if phase == "fine-tune":
            trainable = unfreeze_top(model, config.fine_from)
            print(f"fine-tuning {trainable} backbone layers from {config.fine_from} at lr {config.fine_lr}"
                  + (" decaying to 0" if config.fine_decay else ""))
        elif phase == "whole":
            print(f"training the whole net for {epochs} epochs, lr {config.whole_lr} decaying to 0")
        else:
            print(f"training the head on the frozen backbone at lr {learning_rate}")
        phase_starts.append(len(history.get("loss", [])))
        model.compile(optimizer=keras.optimizers.Adam(learning_rate), metrics=["accuracy"],
                      loss="sparse_categorical_crossentropy" if teacher is None else "categorical_crossentropy")
        # A decaying rate is worth finishing; a fixed one stops when validation stops improving.
        decaying = phase == "whole" or (phase == "fine-tune" and config.fine_decay)
        stop = [] if decaying else [keras.callbacks.EarlyStopping(monitor="val_loss",
                                                                          patience=config.patience)]
        result = model.fit(train, validation_data=val, epochs=epochs, class_weight=weights,
                           callbacks=[keep_best, *stop], verbose=verbose,
                           shuffle=False)  # the dataset shuffles itself, seeded
        for key, values in result.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
    if keep_best.best_weights is not None:
        keep_best.restore(model)
    return {"history": history, "phase_starts": phase_starts, "best_epoch": keep_best.best_epoch,
            "best_val_loss": float(keep_best.best_loss), "class_weights": weights}
