"""A narrower MobileNetV2 started from a wider one: each layer keeps the wider layer's most used channels.

Taking the *first* channels of each layer (the old rule) keeps an arbitrary third of a 1.0 network at
alpha 0.35: the kept channels' partners in the next layer are mostly gone, and v2's three classes took
40 epochs to climb back to 0.91. Keeping the channels that carry the most signal into the next layer,
measured on real crops, keeps most of what the wider net computes (docs/notes/2026-12-05-classifier-record.md,
"The fast model").

Channels are tied together by the network's wiring: a block's expansion, depthwise and projection
input share one set of channels, and every block of a stage writes into one residual stream, so each
such *space* is chosen once and every layer in it is cut the same way.
"""

import keras
import numpy as np

# Keras MobileNetV2's inverted-residual blocks, by stage (a stage's blocks share one output width).
STAGES = ((0,), (1, 2), (3, 4, 5), (6, 7, 8, 9), (10, 11, 12), (13, 14, 15), (16,))


def _name(block: int) -> str:
    return "expanded_conv" if block == 0 else f"block_{block}"


def spaces() -> dict[str, tuple[str | None, str]]:
    """Every weighted layer's (input channel space, output channel space)."""
    wiring = {"Conv1": (None, "stem"), "bn_Conv1": ("stem", "stem"),
              "expanded_conv_depthwise": ("stem", "stem"), "expanded_conv_depthwise_BN": ("stem", "stem"),
              "expanded_conv_project": ("stem", "s0"), "expanded_conv_project_BN": ("s0", "s0")}
    for stage, blocks in enumerate(STAGES[1:], start=1):
        for block in blocks:
            inner, stream = f"e{block}", f"s{stage}"
            source = f"s{stage - 1}" if block == blocks[0] else stream
            wiring.update({f"block_{block}_expand": (source, inner), f"block_{block}_expand_BN": (inner, inner),
                           f"block_{block}_depthwise": (inner, inner),
                           f"block_{block}_depthwise_BN": (inner, inner),
                           f"block_{block}_project": (inner, stream),
                           f"block_{block}_project_BN": (stream, stream)})
    wiring.update({"Conv_1": ("s6", "top"), "Conv_1_bn": ("top", "top")})
    return wiring


def probes() -> dict[str, str]:
    """The layer whose output is each space's signal: after the non-linearity, or a stage's whole stream."""
    found = {"stem": "expanded_conv_depthwise_relu", "top": "out_relu"}
    for stage, blocks in enumerate(STAGES):
        last = blocks[-1]
        found[f"s{stage}"] = f"{_name(last)}_{'add' if len(blocks) > 1 else 'project_BN'}"
        found.update({f"e{block}": f"block_{block}_depthwise_relu" for block in blocks if block})
    return found


def importance(wide: keras.Model, pixels: np.ndarray) -> dict[str, np.ndarray]:
    """Per space, how much each channel passes on: its mean absolute activation on ``pixels`` (the
    backbone's normalised input) times the L1 norm of the weights that read it."""
    wiring, probe = spaces(), probes()
    taps = keras.Model(wide.input, [wide.get_layer(layer).output for layer in probe.values()])
    outputs = taps.predict(pixels, batch_size=32, verbose=0)
    scores = {space: np.abs(out).mean(axis=(0, 1, 2)) for space, out in zip(probe, outputs, strict=True)}
    for layer, (source, _) in wiring.items():
        kernel = wide.get_layer(layer)
        if type(kernel) is keras.layers.Conv2D and source is not None:
            scores[source] = scores[source] * np.abs(kernel.get_weights()[0]).sum(axis=(0, 1, 3))
    return scores


def _cut(layer: keras.layers.Layer, weights: list[np.ndarray], keep: dict[str, np.ndarray],
         wiring: tuple[str | None, str]) -> list[np.ndarray]:
    source, target = wiring
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return [weights[0][:, :, keep[target], :]]
    if isinstance(layer, keras.layers.Conv2D):
        rows = slice(None) if source is None else keep[source]
        return [weights[0][:, :, rows, :][..., keep[target]]]
    return [w[keep[target]] for w in weights]  # BatchNormalization: gamma, beta, mean, variance


def narrow_from(narrow: keras.Model, wide: keras.Model, pixels: np.ndarray) -> dict[str, int]:
    """Set every layer of ``narrow`` to the most used channels of the same layer of ``wide`` (both Keras
    MobileNetV2 backbones, any input sizes); returns each space's kept channel count."""
    wiring = spaces()
    widths = {target: narrow.get_layer(layer).get_weights()[0].shape[3] for layer, (_, target) in wiring.items()
              if type(narrow.get_layer(layer)) is keras.layers.Conv2D}
    scores = importance(wide, pixels)
    keep = {space: np.sort(np.argsort(-scores[space], kind="stable")[:width]) for space, width in widths.items()}
    for layer, spaces_of in wiring.items():
        narrow.get_layer(layer).set_weights(_cut(narrow.get_layer(layer), wide.get_layer(layer).get_weights(),
                                                 keep, spaces_of))
    return widths
