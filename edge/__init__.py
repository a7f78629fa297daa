"""Device runtime: capture, face detection, mask classification, tracking, alerts, counts.

Nothing in this package imports TensorFlow, Keras, ``train`` or ``export``: it has to
install and run on a Raspberry Pi from ``requirements-edge.txt`` alone.
"""

__version__ = "0.1.0"
