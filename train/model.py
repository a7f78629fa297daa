"""The classifier: raw RGB pixels in, class probabilities out.

Normalisation lives in the graph (``Rescaling``), so the exported int8 model takes the
camera's uint8 pixels directly and no device code can get the scaling wrong.
"""

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from .prune import narrow_from


def backbone_name(alpha: float) -> str:
    return f"mobilenetv2_{alpha:.2f}"


def build_model(n_classes: int, size: int, weights: str | None, dropout: float = 0.2,
                float16: bool = False, alpha: float = 1.0, start: keras.Model | None = None,
                probe: np.ndarray | None = None) -> keras.Model:
    """MobileNetV2 (width ``alpha``) with a pooled softmax head.

    ``weights``: "imagenet" (Keras downloads them), a path to a no-top weights file, or None.
    A file is the alpha-1.0 one (the one in ../shared). A narrower net starts from a wider one
    cut to its most used channels on ``probe`` (training crops, 0..255; ``train.prune``): the
    backbone of ``start`` (a trained alpha-1.0 classifier, whose head it also takes) when given,
    else the weights file. At alpha 1.0 the backbone is called with
    ``training=False`` so its BatchNorm layers stay in inference mode when they are unfrozen
    for fine-tuning: the small batches of a fine-tune would otherwise wreck their ImageNet
    statistics. A narrower net is trained whole, BatchNorm included: its inherited statistics
    belong to the wider net, and Keras' momentum of 0.999 would keep them for thousands of steps.
    """
    if weights not in (None, "imagenet") and not Path(weights).is_file():
        raise FileNotFoundError(f"backbone weights {weights} not found")
    inputs = keras.Input((size, size, 3), name="pixels")
    scaled = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="normalise")(inputs)
    shape = (size, size, 3)
    if alpha == 1.0:
        backbone = keras.applications.MobileNetV2(input_shape=shape, alpha=1.0, include_top=False, weights=weights)
        backbone.trainable = False
        features = backbone(scaled, training=False)
    else:
        backbone = keras.applications.MobileNetV2(input_shape=shape, alpha=alpha, include_top=False,
                                                  weights="imagenet" if weights == "imagenet" and start is None
                                                  else None)
        if start is not None or weights not in (None, "imagenet"):
            # the wider net rebuilt at this input size: convolution weights do not depend on it
            wide = keras.applications.MobileNetV2(input_shape=shape, alpha=1.0, include_top=False,
                                                  weights=None if start is not None else weights)
            if start is not None:
                wide.set_weights(backbone_of(start).get_weights())
            narrow_from(backbone, wide, probe.astype(np.float32) / 127.5 - 1.0)
        for layer in backbone.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = 0.9
        features = backbone(scaled)
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(features)
    pooled = keras.layers.Dropout(dropout, name="dropout")(pooled)
    # The softmax stays float32 under mixed precision: float16 probabilities round badly near 1.
    head = keras.layers.Dense(n_classes, activation="softmax", name="probabilities",
                              dtype="float32" if float16 else None)
    model = keras.Model(inputs, head(pooled), name="mask_classifier")
    if start is not None:  # every width keeps MobileNetV2's 1280 features, so the trained head fits as it is
        head.set_weights(start.get_layer("probabilities").get_weights())
    return model


def backbone_of(model: keras.Model) -> keras.Model:
    return next(layer for layer in model.layers if isinstance(layer, keras.Model))


def unfreeze_top(model: keras.Model, from_layer: str) -> int:
    """Make the backbone trainable from ``from_layer`` on, BatchNorm excluded; returns the count."""
    backbone = backbone_of(model)
    backbone.trainable = True
    names = [layer.name for layer in backbone.layers]
    if from_layer not in names:
        raise ValueError(f"no layer {from_layer!r} in the backbone")
    start = names.index(from_layer)
    trainable = 0
    for index, layer in enumerate(backbone.layers):
        layer.trainable = index >= start and not isinstance(layer, keras.layers.BatchNormalization)
        trainable += layer.trainable
    return trainable


def augmenter(seed: int) -> keras.Sequential:
    """Training-only augmentation: flips, small rotation, zoom/crop jitter, light, blur."""
    return keras.Sequential([
        keras.layers.RandomFlip("horizontal", seed=seed),
        keras.layers.RandomRotation(0.04, fill_mode="reflect", seed=seed),
        keras.layers.RandomZoom((-0.15, 0.1), fill_mode="reflect", seed=seed),
        keras.layers.RandomTranslation(0.08, 0.08, fill_mode="reflect", seed=seed),
        keras.layers.RandomBrightness(0.25, value_range=(0, 255), seed=seed),
        keras.layers.RandomContrast(0.3, value_range=(0, 255), seed=seed),
    ], name="augment")


def random_blur(images: tf.Tensor, probability: float = 0.25) -> tf.Tensor:
    """Blur a random share of a batch with a 5x5 binomial kernel (focus and motion softness)."""
    taps = tf.constant([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0
    kernel = tf.tile((taps[:, None] * taps[None, :])[:, :, None, None], [1, 1, 3, 1])
    blurred = tf.nn.depthwise_conv2d(images, kernel, [1, 1, 1, 1], "SAME")
    chosen = tf.random.uniform([tf.shape(images)[0], 1, 1, 1]) < probability
    return tf.where(chosen, blurred, images)


def greyscale(image: tf.Tensor, probability: float) -> tf.Tensor:
    """With ``probability``, one RGB crop (0..255, made float) as a camera in night mode sees it: grey. A
    doorway camera that switches to infrared at dusk (a Pi NoIR, most IP cameras) gives grey frames, and a
    model that never saw one called 69% of its test split's worn-wrong masks something else on grey
    (docs/notes/2026-12-05-classifier-record.md)."""
    image = tf.cast(image, tf.float32)
    if probability <= 0:
        return image
    grey = tf.image.grayscale_to_rgb(tf.image.rgb_to_grayscale(image))
    return tf.cond(tf.random.uniform([]) < probability, lambda: grey, lambda: image)


def degrade(image: tf.Tensor, probability: float) -> tf.Tensor:
    """With ``probability``, make one float RGB crop (0..255) look like a small real face at a door.

    In the order a camera does it: dim light, too few pixels (shrunk to 16-48 px, then back up as the
    device's resize does), sensor noise, JPEG. Each step happens to most chosen crops, not all, so the
    model also sees each alone. Measured on masks-oos: a model that never saw this misses half the
    unmasked faces under 32 px (docs/notes/2026-12-05-classifier-record.md).
    """
    def maybe(share: float, step, x):
        return tf.cond(tf.random.uniform([]) < share, lambda: step(x), lambda: x)

    def dim(x):
        return x * tf.random.uniform([], 0.3, 0.8)

    def shrink(x):
        size = tf.shape(x)[:2]
        side = tf.random.uniform([], 16, 49, dtype=tf.int32)
        small = tf.image.resize(x, [side, side], method="area")
        return tf.image.resize(small, size, method="bilinear")

    def noise(x):
        return x + tf.random.normal(tf.shape(x), stddev=tf.random.uniform([], 2.0, 8.0))

    def jpeg(x):
        encoded = tf.cast(tf.clip_by_value(tf.round(x), 0.0, 255.0), tf.uint8)
        quality = tf.random.uniform([], 25, 86, dtype=tf.int32)
        return tf.cast(tf.image.adjust_jpeg_quality(encoded, quality), tf.float32)

    def all_steps(x):
        x = maybe(0.4, dim, x)
        x = maybe(0.8, shrink, x)
        x = maybe(0.5, noise, x)
        x = tf.clip_by_value(x, 0.0, 255.0)
        return maybe(0.6, jpeg, x)

    image = tf.cast(image, tf.float32)
    if probability <= 0:
        return image
    return maybe(probability, all_steps, image)


def predict(model: keras.Model, images: np.ndarray, batch_size: int) -> np.ndarray:
    return model.predict(images.astype(np.float32), batch_size=batch_size, verbose=0)
