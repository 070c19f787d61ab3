"""``icechunk.testing.strategies``: drawn configurations are valid and drive real repositories."""

from __future__ import annotations

import numpy as np
import zarr
from hypothesis import given, settings
from hypothesis import strategies as st

import icechunk as ic
from icechunk.testing.strategies import splitting_configs


def _model_arrays() -> tuple[zarr.Array, ...]:
    group = zarr.group(zarr.storage.MemoryStore())
    a = group.create_array("a", shape=(6, 4), chunks=(2, 1), dtype="i4", dimension_names=("t", "x"))
    b = group.create_group("g").create_array("b", shape=(5,), chunks=(2,), dtype="i4")
    return a, b


@settings(max_examples=25)
@given(data=st.data())
def test_splitting_configs_round_trip_and_split_real_manifests(data: st.DataObject) -> None:
    arrays = _model_arrays()
    config = data.draw(splitting_configs(arrays=arrays))
    assert isinstance(config, ic.ManifestSplittingConfig)
    assert ic.ManifestSplittingConfig.from_dict(config.to_dict()) == config
    repo = ic.Repository.create(
        ic.in_memory_storage(),
        config=ic.RepositoryConfig(manifest=ic.ManifestConfig(splitting=config)),
    )
    session = repo.writable_session("main")
    root = zarr.group(session.store)
    written = {}
    for array in arrays:
        target = root.create_array(
            array.path, shape=array.shape, chunks=array.chunks, dtype=array.dtype,
            dimension_names=array.metadata.dimension_names,
        )
        written[array.path] = np.arange(np.prod(array.shape), dtype="i4").reshape(array.shape)
        target[...] = written[array.path]
    session.commit("arrays")
    reader = zarr.open_group(repo.readonly_session(branch="main").store, mode="r")
    for path, values in written.items():
        np.testing.assert_array_equal(reader[path][...], values)


def test_splitting_configs_target_the_given_arrays() -> None:
    arrays = _model_arrays()
    seen: set[str] = set()

    @settings(max_examples=50)
    @given(config=splitting_configs(arrays=arrays))
    def collect(config: ic.ManifestSplittingConfig) -> None:
        for condition in config.to_dict():
            seen.add(repr(condition))

    collect()
    assert any("a" in s for s in seen) and any("b" in s for s in seen)


def test_splitting_configs_accept_empty_arrays_with_zero_sized_chunks() -> None:
    group = zarr.group(zarr.storage.MemoryStore())
    empty = group.create_array("e", shape=(0,), chunks=(0,), dtype="bool")

    @settings(max_examples=10)
    @given(config=splitting_configs(arrays=(empty,)))
    def check(config: ic.ManifestSplittingConfig) -> None:
        assert ic.ManifestSplittingConfig.from_dict(config.to_dict()) == config

    check()
