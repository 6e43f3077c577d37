"""The file formats, one module each, and the atomic write they all go through.

- ``atomic``: ``atomic_write`` (temporary sibling, then rename);
- ``structure_file``: single-structure ``.npy`` / ``.h5`` files of ``spinodoid generate``;
- ``shards``: the sample rule's HDF5 shards; ``eta_files``: the simulate rule's η files;
- ``dataset``: the zarr dataset (assembly, labels, summary);
- ``meshes``: STL / VTK meshes of a structure.
"""
