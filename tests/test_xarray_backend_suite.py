"""Xarray's own Zarr backend test-suite (``xarray.tests.test_backends``) run against IcechunkStore.

Three families run here:

* ``TestIcechunkStoreToZarr``: ``ZarrBase`` exactly as xarray runs it for its own stores, with
  the target being the store of a writable Icechunk session (``Dataset.to_zarr`` writes).
* ``TestIcechunkStoreToIcechunk``: ``ZarrBase`` again, but every ``save`` goes through
  :func:`icechunk.xarray.to_icechunk` and is committed, the way users write to Icechunk. The
  target is a thin store that always points at a clean writable session on ``main``.
* ``TestIcechunkRegionAuto``: xarray's ``region="auto"`` tests, written with ``to_icechunk``.

Only Zarr format 3 runs (Icechunk stores Zarr v3 only). Tests that cannot apply to Icechunk are
deselected in ``DESELECTED`` below, each with its reason; nothing else is skipped by us (xarray's
own marks may skip a few tests that do not apply to Zarr format 3 or need packages such as
h5netcdf that xarray treats as optional).

Xarray's suite relies on two things from xarray's repository-level ``conftest.py`` that the wheel
does not ship: the ``skip_if_param`` mark (handled by the autouse fixture below) and the
``default_zarr_format`` fixture parametrization (redefined here with format 3 only).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    import dask  # noqa: F401 - a missing package must fail in CI, not skip
    import xarray
else:
    xarray = pytest.importorskip("xarray")
    pytest.importorskip("dask")

import xarray as xr
import zarr
from xarray.tests.conftest import time_unit, use_dask  # noqa: F401 - fixtures the suite uses
from xarray.tests import test_backends as xb
from zarr.storage import WrapperStore

import icechunk
from icechunk.xarray import to_icechunk

# test name (without class or parameters) -> why it is deselected
DESELECTED: dict[str, str] = {
    # Pickling: the to_zarr family writes into a writable session and then pickles the
    # still-open dataset, whose store holds that writable session. Icechunk refuses to pickle
    # a writable session by design (a copy would silently drop writes; use session.fork()).
    # The to_icechunk family commits each save and runs these tests.
    "TestIcechunkStoreToZarr::test_pickle": "a writable session does not pickle (by design)",
    "TestIcechunkStoreToZarr::test_pickle_dataarray": "a writable session does not pickle (by design)",
    # Writes only to xarray's own ``tmp_store`` fixture (a directory, Zip or dict store),
    # never to a target of ours: nothing about Icechunk is tested.
    "TestIcechunkRegionAuto::test_dataset_to_zarr_align_chunks_true": "uses xarray's tmp_store, not an Icechunk target",
}

_SKIP_PARAM_MARK = "skip_if_param"


@pytest.fixture(params=[3])
def default_zarr_format(request: pytest.FixtureRequest) -> Iterator[None]:
    """Icechunk stores Zarr format 3 only (xarray's own fixture also runs format 2)."""
    with zarr.config.set(default_zarr_format=request.param):
        yield


@pytest.fixture(autouse=True)
def _skip_if_param(request: pytest.FixtureRequest) -> None:
    """Honour xarray's ``skip_if_param`` mark (implemented in xarray's repository conftest)."""
    callspec = getattr(request.node, "callspec", None)
    params = callspec.params if callspec is not None else {}
    for mark in request.node.iter_markers(_SKIP_PARAM_MARK):
        kwargs = dict(mark.kwargs)
        reason = kwargs.pop("reason", "")
        condition = kwargs.pop("condition", True)
        if condition and kwargs and all(
            k in params and params[k] == v for k, v in kwargs.items()
        ):
            pytest.skip(reason)


@pytest.fixture(autouse=True)
def _deselect(request: pytest.FixtureRequest) -> None:
    cls = request.node.cls.__name__ if request.node.cls else ""
    name = request.node.originalname
    reason = DESELECTED.get(f"{cls}::{name}")
    if reason is not None:
        pytest.skip(f"deselected: {reason}")


@contextlib.contextmanager
def _repository() -> Iterator[icechunk.Repository]:
    with tempfile.TemporaryDirectory() as tmp:
        yield icechunk.Repository.create(icechunk.local_filesystem_storage(tmp))


class TestIcechunkStoreToZarr(xb.ZarrBase):
    """xarray's Zarr suite, writing with ``to_zarr`` into a writable Icechunk session."""

    @contextlib.contextmanager
    def create_zarr_target(self) -> Iterator[icechunk.IcechunkStore]:
        with _repository() as repo:
            yield repo.writable_session("main").store


class _CommittingStore(WrapperStore[icechunk.IcechunkStore]):
    """A store that forwards to a writable session of ``main``; ``checkpoint`` commits it.

    After a checkpoint the store points at a fresh writable session, so data written earlier
    is readable and new writes are possible. It pickles as a read-only session of the
    committed branch, the way users send a repository's data to workers (a writable session
    never pickles).
    """

    def __init__(self, repo: icechunk.Repository):
        self._repo = repo
        super().__init__(repo.writable_session("main").store)

    def __getstate__(self) -> dict[str, Any]:
        return {"repo": self._repo, "store": self._repo.readonly_session("main").store}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._repo = state["repo"]
        self._store = state["store"]

    def _with_store(self, store: Any) -> Any:
        new = object.__new__(type(self))
        new._repo = self._repo
        new._store = store
        return new

    def with_read_only(self, read_only: bool = False) -> Any:
        return self._with_store(self._store.with_read_only(read_only))

    @property
    def supports_consolidated_metadata(self) -> bool:
        return False

    @property
    def session(self) -> icechunk.Session:
        return self._store.session

    def checkpoint(self) -> None:
        session = self._store.session
        if session.has_uncommitted_changes:
            session.commit("checkpoint")
        self._store = self._repo.writable_session("main").store

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)


def _save(dataset: xr.Dataset, target: _CommittingStore, **kwargs: Any) -> Any:
    """Write like ``Dataset.to_zarr`` would, but with ``to_icechunk``, and commit.

    ``to_icechunk`` (like upstream's) always computes: a ``compute=False`` request, and the
    to_zarr-only options ``write_empty_chunks`` and ``storage_options``, are written with
    ``to_zarr`` into the same session instead. ``consolidated`` is ignored, as xarray ignores
    it for stores without consolidated metadata; the format is always Zarr 3.
    """
    kwargs = dict(kwargs)
    kwargs.pop("zarr_format", None)
    kwargs.pop("consolidated", None)
    if (
        not kwargs.get("compute", True)
        or kwargs.get("write_empty_chunks") is not None
        or "storage_options" in kwargs
    ):
        return dataset.to_zarr(store=target, **kwargs)
    kwargs.pop("compute", None)
    kwargs.pop("write_empty_chunks", None)
    target.checkpoint()  # to_icechunk with dask data forks the session: it must be clean
    to_icechunk(dataset, target.session, **kwargs)
    target.checkpoint()
    return None


class TestIcechunkStoreToIcechunk(xb.ZarrBase):
    """xarray's Zarr suite with every ``save`` done by ``to_icechunk`` and committed."""

    @contextlib.contextmanager
    def create_zarr_target(self) -> Iterator[_CommittingStore]:
        with _repository() as repo:
            yield _CommittingStore(repo)

    def save(self, dataset: xr.Dataset, store_target: Any, **kwargs: Any) -> Any:
        if not isinstance(store_target, _CommittingStore):
            return super().save(dataset, store_target, **kwargs)
        return _save(dataset, store_target, **kwargs)


class TestIcechunkRegionAuto(xb.TestZarrRegionAuto):
    """xarray's ``region="auto"`` tests, writing with ``to_icechunk``."""

    @contextlib.contextmanager
    def create_zarr_target(self) -> Iterator[_CommittingStore]:
        with _repository() as repo:
            yield _CommittingStore(repo)

    def save(self, target: _CommittingStore, ds: xr.Dataset, **kwargs: Any) -> Any:
        return _save(ds, target, **kwargs)
