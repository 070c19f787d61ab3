"""Concurrent range reads of one object are merged into few requests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

import icechunk
from icechunk._coalesce import RangeCoalescer

from s3_auth_server import KEY_ID, SECRET, serve_s3_with_auth
from storage.fault_proxy import fault_proxy

DATA = bytes(range(256)) * 64  # 16 KiB


class _Source:
    """A fetch function over ``DATA`` that records the ranges asked for."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    async def fetch(self, lo: int, hi: int) -> tuple[bytes, Any]:
        self.calls.append((lo, hi))
        await asyncio.sleep(0.001)
        return DATA[lo:hi], {"size": len(DATA)}


def _read_all(coalescer: RangeCoalescer, ranges: list[tuple[Any, int, int]], source: _Source) -> list[bytes]:
    async def main() -> list[bytes]:
        results = await asyncio.gather(
            *(coalescer.read(key, lo, hi, source.fetch) for key, lo, hi in ranges)
        )
        return [data for data, _ in results]

    return asyncio.run(main())


def test_adjacent_reads_share_one_request() -> None:
    source = _Source()
    ranges = [("f", i * 100, i * 100 + 100) for i in range(50)][::-1]  # any order
    got = _read_all(RangeCoalescer(), ranges, source)
    assert got == [DATA[lo:hi] for _, lo, hi in ranges]
    assert source.calls == [(0, 5000)]


def test_far_apart_objects_and_limits_split_requests() -> None:
    source = _Source()
    ranges = [("f", 0, 10), ("f", 20, 30), ("f", 9000, 9010), ("g", 0, 10), ("f", 40, 50)]
    coalescer = RangeCoalescer(max_gap=1000, max_span=5000)
    got = _read_all(coalescer, ranges, source)
    assert got == [DATA[lo:hi] for _, lo, hi in ranges]
    assert sorted(source.calls) == [(0, 10), (0, 50), (9000, 9010)]
    source.calls.clear()
    _read_all(RangeCoalescer(max_gap=10_000, max_span=100), [("f", 0, 60), ("f", 60, 120)], source)
    assert sorted(source.calls) == [(0, 60), (60, 120)]


def test_a_failed_request_fails_every_reader() -> None:
    async def broken(lo: int, hi: int) -> tuple[bytes, Any]:
        raise icechunk.IcechunkError(f"cannot read {lo}-{hi}")

    async def main() -> list[Any]:
        coalescer = RangeCoalescer()
        return await asyncio.gather(
            *(coalescer.read("f", i, i + 1, broken) for i in range(3)), return_exceptions=True
        )

    errors = asyncio.run(main())
    assert all(isinstance(e, icechunk.IcechunkError) and "0-3" in str(e) for e in errors)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with serve_s3_with_auth() as endpoint:
        yield endpoint


def test_virtual_chunks_of_one_file_are_read_in_few_requests(
    tmp_path: Path, s3_endpoint: str
) -> None:
    import boto3

    nchunks, chunk = 200, 64
    values = np.arange(nchunks * chunk, dtype="<f8")
    client = boto3.client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1",
        aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
    )
    client.create_bucket(Bucket="src")
    client.put_object(Bucket="src", Key="big.bin", Body=values.tobytes())
    with fault_proxy(s3_endpoint) as proxy:
        prefix = "s3://src/"
        config = icechunk.RepositoryConfig.default()
        store = icechunk.s3_store(
            region="us-east-1", endpoint_url=proxy.url, allow_http=True, force_path_style=True
        )
        config.set_virtual_chunk_container(icechunk.VirtualChunkContainer(prefix, store))
        creds = icechunk.containers_credentials(
            {prefix: icechunk.s3_credentials(access_key_id=KEY_ID, secret_access_key=SECRET)}
        )
        repo = icechunk.Repository.create(
            icechunk.local_filesystem_storage(str(tmp_path / "repo")), config,
            authorize_virtual_chunk_access=creds,
        )
        session = repo.writable_session("main")
        zarr.create_array(
            session.store, name="v", shape=values.shape, chunks=(chunk,), dtype="<f8",
            compressors=None,
        )
        nbytes = chunk * 8
        session.store.set_virtual_refs_arr(
            "v", (nchunks,), [f"{prefix}big.bin"] * nchunks,
            np.arange(nchunks, dtype=np.uint64) * nbytes, np.full(nchunks, nbytes, np.uint64),
        )
        session.commit("200 virtual chunks of one object")
        proxy.faults.forwarded.clear()
        got = zarr.open_array(repo.readonly_session("main").store, path="v", mode="r")[:]
        np.testing.assert_array_equal(got, values)
        gets = [r for r in proxy.faults.forwarded if r.startswith("GET") and "big.bin" in r]
    # zarr reads 10 chunks at a time: about one request per 10 chunks, not one per chunk
    assert 0 < len(gets) <= nchunks // 5, len(gets)
