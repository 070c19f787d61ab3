"""Write a repository whose arrays have split manifests, with whichever ``icechunk`` is importable.

Usage: ``python write_split_repo.py PATH``

Public API of icechunk 1.1 only, so that upstream Icechunk writes it with its own
``ManifestSplittingConfig``: array ``temp`` (6 x 8 chunks, dimensions ``y``/``x``) is split every 2
chunks along axis 0 and every 3 along ``x`` (3 x 3 regions); ``u`` (10 chunks) every 4 along
axis 0 (3 regions); ``small`` is not split. A second commit edits one region of ``temp``.
"""

from __future__ import annotations

import sys

import numpy as np
import zarr

import icechunk as ic


def main(path: str) -> None:
    splitting = ic.ManifestSplittingConfig.from_dict(
        {
            ic.ManifestSplitCondition.name_matches("^temp$"): {
                ic.ManifestSplitDimCondition.DimensionName("x"): 3,
                ic.ManifestSplitDimCondition.Axis(0): 2,
            },
            ic.ManifestSplitCondition.path_matches("^/u$"): {
                ic.ManifestSplitDimCondition.Any(): 4,
            },
        }
    )
    config = ic.RepositoryConfig(
        inline_chunk_threshold_bytes=0, manifest=ic.ManifestConfig(splitting=splitting)
    )
    repo = ic.Repository.create(ic.local_filesystem_storage(path), config=config)
    session = repo.writable_session("main")
    t = zarr.create_array(
        session.store, name="temp", shape=(6, 8), chunks=(1, 1), dtype="i4", dimension_names=("y", "x")
    )
    t[:] = np.arange(48).reshape(6, 8)
    u = zarr.create_array(session.store, name="u", shape=(20,), chunks=(2,), dtype="f8")
    u[:] = np.linspace(0, 1, 20)
    small = zarr.create_array(session.store, name="small", shape=(3,), chunks=(1,), dtype="u1")
    small[:] = [7, 8, 9]
    session.commit("split")
    session = repo.writable_session("main")
    zarr.open_array(session.store, path="temp")[5, 7] = -1
    session.commit("edit one region")


if __name__ == "__main__":
    main(sys.argv[1])
