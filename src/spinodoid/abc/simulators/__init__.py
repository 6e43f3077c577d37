"""Simulators of the ABC-PMC sampler, one module each (protocol in :mod:`spinodoid.abc`).

- :mod:`spinodoid.abc.simulators.cnn`: a fresh GRF structure per candidate, η by the CNN.
"""

from spinodoid.abc.simulators.cnn import cnn_simulator

__all__ = ["cnn_simulator"]
