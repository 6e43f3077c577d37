"""Inlet–outlet connectivity (percolation) of a pore or solid phase: one code for every caller
(docs/method.md §2).

A *graph* has the voxels as nodes and links between face-adjacent voxels:

- the **voxel graph** of a phase (:func:`voxel_graph`) links two voxels of the phase that share a
  face; the dataset's acceptance rule (paper, "Dataset generation": both phases connected in x,
  y and z) and the staircase solvers use it;
- the **face graph** (:func:`face_graph`) links two voxels whose shared face has an open
  fraction > 0: the graph the sub-voxel interface conducts through (docs/lbm.md, "Wall
  models"). A voxel whose centre is solid can carry flux through its open faces, and two pore
  voxels whose shared face is closed do not conduct, so the two graphs can disagree.

The graph *percolates* along an axis when one connected cluster touches both the inlet layer
(index 0) and the outlet layer (index N − 1) of that axis. The inlet and outlet are never joined
through the periodic wrap of the transport axis; the faces parallel to it are joined through
their wrap when ``periodic`` (the solvers' periodic lateral boundary), not joined otherwise (the
acceptance rule). Each graph is labelled once without any wrap link (``scipy.ndimage.label``),
then the wrap links of the lateral faces merge labels per axis, so one labelling answers all
three axes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = [
    "NonPercolatingError",
    "Graph",
    "voxel_graph",
    "face_graph",
    "percolating_voxels",
    "percolates",
    "percolating_axes",
    "is_bicontinuous",
]

_FACE_CONNECTIVITY = ndimage.generate_binary_structure(3, 1)


class NonPercolatingError(ValueError):
    """The pore space does not connect the inlet face to the outlet face along the axis."""


@dataclass(frozen=True)
class Graph:
    """A voxel-node graph, labelled without its wrap links.

    labels: int32 (Nx, Ny, Nz), the connected cluster of each node when no link crosses the
    periodic wrap (1..count; 0 where the voxel is no node: it has no link). wraps: per axis d,
    bool array of the layer shape, True where the last voxel along d is linked to the first
    across the wrap. count: number of clusters.
    """

    labels: np.ndarray
    wraps: tuple[np.ndarray, np.ndarray, np.ndarray]
    count: int


def voxel_graph(phase: np.ndarray) -> Graph:
    """The graph linking face-adjacent voxels of ``phase`` (bool or 0/1 (Nx, Ny, Nz))."""
    phase = np.asarray(phase, dtype=bool)
    labels, count = ndimage.label(phase, structure=_FACE_CONNECTIVITY, output=np.int32)
    wraps = tuple(np.take(phase, 0, axis=d) & np.take(phase, -1, axis=d) for d in range(3))
    return Graph(labels, wraps, int(count))


def face_graph(open_faces: np.ndarray) -> Graph:
    """The graph linking voxels whose shared face is open.

    Args:
        open_faces: bool (3, Nx, Ny, Nz) (or face codes / open fractions, open where > 0):
            entry [d, x, y, z] is the face between voxel (x, y, z) and its +d neighbour, the
            last one along d facing the first across the wrap.

    Labelled on a grid twice as fine: nodes at even indices, the link between two nodes at the
    odd index between them, so that face connectivity of that grid is the graph's (memory
    ≈ 40 B per voxel).
    """
    links = np.asarray(open_faces) > 0
    if links.ndim != 4 or links.shape[0] != 3:
        raise ValueError(f"open_faces must have shape (3, Nx, Ny, Nz), got {links.shape}")
    nodes = links.any(axis=0)
    for d in range(3):
        nodes |= np.roll(links[d], 1, axis=d)  # the +d neighbour of an open face
    shape = links.shape[1:]
    fine = np.zeros(tuple(2 * n - 1 for n in shape), dtype=bool)
    fine[::2, ::2, ::2] = nodes
    fine[1::2, ::2, ::2] = links[0, :-1]
    fine[::2, 1::2, ::2] = links[1, :, :-1]
    fine[::2, ::2, 1::2] = links[2, :, :, :-1]
    labels, count = ndimage.label(fine, structure=_FACE_CONNECTIVITY, output=np.int32)
    wraps = tuple(np.take(links[d], -1, axis=d) for d in range(3))
    return Graph(np.ascontiguousarray(labels[::2, ::2, ::2]), wraps, int(count))


def _roots(graph: Graph, axis: int, periodic: bool) -> np.ndarray:
    """Cluster id of every label (int, (count + 1,)) after merging across the lateral wraps."""
    if not periodic:
        return np.arange(graph.count + 1)
    pairs = []
    for lateral in (d for d in range(3) if d != axis):
        first = np.take(graph.labels, 0, axis=lateral)[graph.wraps[lateral]]
        last = np.take(graph.labels, -1, axis=lateral)[graph.wraps[lateral]]
        pairs.append(np.stack([first, last]))
    import scipy.sparse as sp  # only for periodic merging: kept off the import path of the CLI
    from scipy.sparse import csgraph

    a, b = np.concatenate(pairs, axis=1)
    size = graph.count + 1
    merged = sp.coo_matrix((np.ones(a.size, dtype=np.int8), (a, b)), shape=(size, size))
    return csgraph.connected_components(merged, directed=False)[1]


def _spanning(graph: Graph, axis: int, periodic: bool) -> tuple[np.ndarray, np.ndarray]:
    """(cluster id per label, ids of the clusters touching both the inlet and the outlet)."""
    roots = _roots(graph, axis, periodic)
    inlet = np.take(graph.labels, 0, axis=axis)
    outlet = np.take(graph.labels, -1, axis=axis)
    return roots, np.intersect1d(roots[inlet[inlet > 0]], roots[outlet[outlet > 0]])


def percolating_voxels(graph: Graph, axis: int, periodic: bool = False) -> np.ndarray:
    """Nodes on a cluster that joins layer 0 to layer N − 1 along ``axis``: bool (Nx, Ny, Nz)."""
    roots, spanning = _spanning(graph, axis, periodic)
    return np.isin(roots[graph.labels], spanning) & (graph.labels > 0)


def percolates(graph: Graph, axis: int, periodic: bool = False) -> bool:
    """Whether a cluster of the graph joins layer 0 to layer N − 1 along ``axis``."""
    return bool(_spanning(graph, axis, periodic)[1].size)


def percolating_axes(phase: np.ndarray, periodic: bool = False) -> tuple[bool, bool, bool]:
    """Whether the voxel graph of the phase connects inlet to outlet along x, y and z.

    Parameters
    ----------
    phase
        Boolean (or 0/1) array, shape ``(N_x, N_y, N_z)``, True where the phase is present.
    periodic
        Join the faces parallel to each axis through their periodic wrap (default: no wrap).
    """
    graph = voxel_graph(phase)
    if graph.count == 0:
        return (False, False, False)
    result = [percolates(graph, axis, periodic) for axis in range(3)]
    return (result[0], result[1], result[2])


def is_bicontinuous(structure: np.ndarray) -> bool:
    """True when pore (0) and solid (1) both percolate along all three axes (no wrap).

    ``structure``: uint8 array ``(N, N, N)``, 1 = solid, 0 = pore.
    """
    solid = structure.astype(bool)
    return all(percolating_axes(~solid)) and all(percolating_axes(solid))
