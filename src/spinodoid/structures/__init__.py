"""The structures and their acceptance rule (docs/method.md §1–2).

- ``grf``: the anisotropic Gaussian random field, its level set Ψ − T and the thresholded
  structure (numpy and torch), sub-voxel refinement of the level set;
- ``prior``: the paper's prior of θ = (a_x, a_y, a_z, ε);
- ``connectivity``: inlet–outlet percolation on the voxel and face graphs; the acceptance rule
  ``is_bicontinuous``;
- ``sampling``: rejection sampling of θ and structures into shards.
"""
