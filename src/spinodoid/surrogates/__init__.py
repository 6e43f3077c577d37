"""The surrogates of the solver: the paper's 3D CNN and the emulator of η(θ) (docs/method.md §4–5).

- ``cnn_input``: the 2×2×2 block-count input; ``cnn``: the network, checkpoints, prediction;
- ``training_data``: the torch dataset and augmentation; ``train``: the training loop with
  resume; ``evaluation``: Table 1 metrics (eqs. 14–15);
- ``emulator``: the Gaussian-process emulator of η(θ) and its ``.npz`` format.
"""
