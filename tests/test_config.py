"""Configuration value objects and ``config.yaml`` compatibility with upstream Icechunk 1.1.

The upstream checks run upstream's own Python (``.cache/upstream-venv``) in a subprocess: it
builds the configurations of ``_config_samples.py`` and writes their ``config.yaml`` (which we must
parse back to equal objects), and it reads the ``config.yaml`` files we write (and re-serializes
them, which we must parse back unchanged).
"""

from __future__ import annotations

import copy
import json
import pickle
import sys
import types
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import icechunk as ic
from icechunk import _config as C
from icechunk import credentials as CR
from icechunk._exceptions import ConfigError

sys.path.insert(0, str(Path(__file__).parent))
from _config_samples import build_samples
from _helpers.upstream import run_upstream

NS = types.SimpleNamespace(**{k: getattr(m, k) for m in (C, CR) for k in m.__all__})
SAMPLES = build_samples(NS)


GENERATE = """
import os, sys, tempfile, types
sys.path.insert(0, sys.argv[1])
import icechunk
from _config_samples import build_samples
ns = types.SimpleNamespace(**vars(icechunk))
ns.azure_store = icechunk.storage.azure_store
for name, cfg in build_samples(ns).items():
    d = tempfile.mkdtemp()
    repo = icechunk.Repository.create(icechunk.local_filesystem_storage(d), config=cfg)
    path = os.path.join(d, "config.yaml")
    if not os.path.exists(path):
        repo.save_config()
    with open(path, "rb") as f, open(os.path.join(sys.argv[2], name + ".yaml"), "wb") as out:
        out.write(f.read())
"""

READ_BACK = """
import json, os, sys, tempfile
import icechunk

def rec(o, fields):
    return None if o is None else {f: getattr(o, f) for f in fields}

def store(s):
    kind = type(s).__name__.rsplit("_", 1)[-1]
    payload = getattr(s, "_0", None)
    if isinstance(payload, os.PathLike):
        payload = str(payload)
    if hasattr(payload, "allow_http"):
        payload = rec(payload, ["region", "endpoint_url", "allow_http", "anonymous",
                                "force_path_style", "network_stream_timeout_seconds",
                                "requester_pays"])
    return [kind, payload]

def dump(c):
    m = c.manifest
    return {
        "inline_chunk_threshold_bytes": c.inline_chunk_threshold_bytes,
        "get_partial_values_concurrency": c.get_partial_values_concurrency,
        "max_concurrent_requests": c.max_concurrent_requests,
        "compression": None if c.compression is None else {
            "algorithm": None if c.compression.algorithm is None else "Zstd",
            "level": c.compression.level},
        "caching": rec(c.caching, ["num_snapshot_nodes", "num_chunk_refs",
                                   "num_transaction_changes", "num_bytes_attributes",
                                   "num_bytes_chunks"]),
        "storage": None if c.storage is None else dict(
            rec(c.storage, ["unsafe_use_conditional_create", "unsafe_use_conditional_update",
                            "unsafe_use_metadata", "storage_class", "metadata_storage_class",
                            "chunks_storage_class", "minimum_size_for_multipart_upload"]),
            concurrency=rec(c.storage.concurrency, ["max_concurrent_requests_for_object",
                                                    "ideal_concurrent_request_size"]),
            retries=rec(c.storage.retries, ["max_tries", "initial_backoff_ms",
                                            "max_backoff_ms"])),
        "virtual_chunk_containers": None if c.virtual_chunk_containers is None else {
            k: {"name": v.name, "url_prefix": v.url_prefix, "store": store(v.store)}
            for k, v in c.virtual_chunk_containers.items()},
        "manifest": None if m is None else {
            "preload": None if m.preload is None else {
                "max_total_refs": m.preload.max_total_refs,
                "has_preload_if": m.preload.preload_if is not None},
            "splitting": None if m.splitting is None else [
                [type(d).__name__.rsplit("_", 1)[-1] + ":" + str(getattr(d, "_0", "")) + "=" + str(n)
                 for d, n in dims]
                for _, dims in (m.splitting.split_sizes or [])]},
    }

src, out = sys.argv[1], sys.argv[2]
result = {}
for name in sorted(os.listdir(src)):
    cfg = icechunk.Repository.fetch_config(icechunk.local_filesystem_storage(os.path.join(src, name)))
    d = tempfile.mkdtemp()
    repo = icechunk.Repository.create(icechunk.local_filesystem_storage(d), config=cfg)
    path = os.path.join(d, "config.yaml")
    if not os.path.exists(path):
        repo.save_config()
    result[name] = {"fields": dump(cfg), "yaml": open(path).read()}
with open(out, "w") as f:
    json.dump(result, f)
"""


def our_dump(c: C.RepositoryConfig) -> dict[str, Any]:
    """The same summary as READ_BACK's ``dump``, from our objects."""

    def rec(o: Any, fields: list[str]) -> Any:
        return None if o is None else {f: getattr(o, f) for f in fields}

    def store(s: Any) -> list[Any]:
        kind = type(s).__name__
        payload = getattr(s, "_0", None)
        if isinstance(payload, C.S3Options):
            payload = rec(payload, list(C.S3Options._field_names()))
        if isinstance(payload, Path):
            payload = str(payload)
        return [kind, payload]

    m = c.manifest
    return {
        "inline_chunk_threshold_bytes": c.inline_chunk_threshold_bytes,
        "get_partial_values_concurrency": c.get_partial_values_concurrency,
        "max_concurrent_requests": c.max_concurrent_requests,
        "compression": None
        if c.compression is None
        else {
            "algorithm": None if c.compression.algorithm is None else "Zstd",
            "level": c.compression.level,
        },
        "caching": rec(c.caching, list(C.CachingConfig._field_names())),
        "storage": None
        if c.storage is None
        else dict(
            rec(
                c.storage,
                [
                    "unsafe_use_conditional_create",
                    "unsafe_use_conditional_update",
                    "unsafe_use_metadata",
                    "storage_class",
                    "metadata_storage_class",
                    "chunks_storage_class",
                    "minimum_size_for_multipart_upload",
                ],
            ),
            concurrency=rec(
                c.storage.concurrency, list(C.StorageConcurrencySettings._field_names())
            ),
            retries=rec(c.storage.retries, list(C.StorageRetriesSettings._field_names())),
        ),
        "virtual_chunk_containers": None
        if c.virtual_chunk_containers is None
        else {
            k: {"name": v.name, "url_prefix": v.url_prefix, "store": store(v.store)}
            for k, v in c.virtual_chunk_containers.items()
        },
        "manifest": None
        if m is None
        else {
            "preload": None
            if m.preload is None
            else {
                "max_total_refs": m.preload.max_total_refs,
                "has_preload_if": m.preload.preload_if is not None,
            },
            "splitting": None
            if m.splitting is None
            else [
                [f"{type(d).__name__}:{getattr(d, '_0', '')}={n}" for d, n in dims]
                for _, dims in (m.splitting.split_sizes or [])
            ],
        },
    }


@pytest.fixture(scope="session")
def upstream_yamls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("upstream-config-yaml")
    run_upstream(GENERATE, str(Path(__file__).parent), str(out))
    return {p.stem: p.read_bytes() for p in out.glob("*.yaml")}


@pytest.fixture(scope="session")
def upstream_read_back(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    src = tmp_path_factory.mktemp("our-config-yaml")
    for name, cfg in SAMPLES.items():
        (src / name).mkdir()
        (src / name / "config.yaml").write_bytes(C.config_to_yaml(cfg))
    out = tmp_path_factory.mktemp("upstream-read-back") / "result.json"
    run_upstream(READ_BACK, str(src), str(out))
    return dict(json.loads(out.read_text()))


# --- (a) upstream writes, we read ----------------------------------------------------------


@pytest.mark.interop
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_we_parse_upstream_yaml(upstream_yamls: dict[str, bytes], name: str) -> None:
    parsed = C.config_from_yaml(upstream_yamls[name])
    expected = SAMPLES[name]
    for field in C.RepositoryConfig._field_names():
        assert getattr(parsed, field) == getattr(expected, field), field
    assert parsed == expected


@pytest.mark.interop
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_our_yaml_matches_upstream_bytes(upstream_yamls: dict[str, bytes], name: str) -> None:
    ours = C.config_to_yaml(SAMPLES[name])
    theirs = upstream_yamls[name]
    if SAMPLES[name].virtual_chunk_containers:
        # upstream keeps containers in a hash map: same lines, container order differs
        assert sorted(ours.splitlines()) == sorted(theirs.splitlines())
    else:
        assert ours == theirs


@pytest.mark.interop
def test_upstream_full_sample_every_field(upstream_yamls: dict[str, bytes]) -> None:
    c = C.config_from_yaml(upstream_yamls["full"])
    assert c.inline_chunk_threshold_bytes == 100
    assert c.get_partial_values_concurrency == 7
    assert c.max_concurrent_requests == 33
    assert c.compression == C.CompressionConfig(C.CompressionAlgorithm.Zstd, 5)
    assert c.caching == C.CachingConfig(1, 2, 3, 4, 5)
    s = c.storage
    assert s is not None
    assert s.concurrency == C.StorageConcurrencySettings(4, 1000)
    assert s.retries == C.StorageRetriesSettings(3, 10, 100)
    assert (s.unsafe_use_conditional_create, s.unsafe_use_conditional_update) == (False, True)
    assert s.unsafe_use_metadata is False
    assert (s.storage_class, s.metadata_storage_class, s.chunks_storage_class) == (
        "STANDARD",
        "STANDARD_IA",
        "GLACIER",
    )
    assert s.minimum_size_for_multipart_upload == 1234
    vccs = c.virtual_chunk_containers
    assert vccs is not None
    s3 = vccs["s3://bucket/p/"].store
    assert isinstance(s3, C.ObjectStoreConfig.S3)
    assert s3._0 == C.S3Options("us-east-1", "http://localhost:9000", True, True, True, 30, True)
    assert isinstance(vccs["s3://compat/"].store, C.ObjectStoreConfig.S3Compatible)
    assert vccs["s3://compat/"].store._0.network_stream_timeout_seconds == 60
    assert vccs["s3://plain-options/"].store._0.network_stream_timeout_seconds is None
    assert vccs["gcs://gb/"].store == C.ObjectStoreConfig.Gcs({"service_account": "x"})
    assert vccs["gs://gb2/"].store == C.ObjectStoreConfig.Gcs()
    assert vccs["https://example.com/data/"].store == C.http_store({"timeout": "3s"})
    assert vccs["file:///tmp/some dir/"].store == C.local_filesystem_store("/tmp/some dir")
    assert vccs["az://acct/"].store._0 == {"account": "acct", "use_emulator": "true"}
    assert vccs["tigris://t/"].store == C.ObjectStoreConfig.Tigris(C.S3Options(region="auto"))
    assert vccs["s3://named/"].name is None
    m = c.manifest
    assert m is not None and m.preload is not None and m.splitting is not None
    assert m.preload.max_total_refs == 99
    assert m.preload.preload_if == SAMPLES["full"].manifest.preload.preload_if
    sizes = m.splitting.to_dict()
    assert sizes[C.ManifestSplitCondition.AnyArray()] == {C.ManifestSplitDimCondition.Any(): 3}
    assert list(sizes.values())[3] == {C.ManifestSplitDimCondition.Axis(2): 4_000_000_000}


# --- (b) we write, upstream reads -----------------------------------------------------------


@pytest.mark.interop
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_upstream_reads_our_yaml(upstream_read_back: dict[str, Any], name: str) -> None:
    got = upstream_read_back[name]
    expected = json.loads(json.dumps(our_dump(SAMPLES[name])))
    assert got["fields"] == expected
    # what upstream writes back from what it read is what we wrote
    assert C.config_from_yaml(got["yaml"].encode()) == SAMPLES[name]


# --- (c) round trips ------------------------------------------------------------------------

regexes = st.sampled_from(["^/a", "x.*", "^time$", "lat|lon", "", "[0-9]+", "it's"])
u32 = st.integers(0, 2**32 - 1)
opt = st.none


def preload_conditions() -> st.SearchStrategy[C.ManifestPreloadCondition]:
    P = C.ManifestPreloadCondition
    leaves = st.one_of(
        regexes.map(P.path_matches),
        regexes.map(P.name_matches),
        st.builds(P.num_refs, st.none() | u32, st.none() | u32),
        st.builds(P.true),
        st.builds(P.false),
    )
    return st.recursive(
        leaves,
        lambda kids: (
            st.lists(kids, max_size=3).map(P.or_conditions)
            | st.lists(kids, max_size=3).map(P.and_conditions)
        ),
        max_leaves=6,
    )


def split_conditions() -> st.SearchStrategy[C.ManifestSplitCondition]:
    S = C.ManifestSplitCondition
    leaves = st.one_of(
        regexes.map(S.path_matches), regexes.map(S.name_matches), st.builds(S.AnyArray)
    )
    return st.recursive(
        leaves,
        lambda kids: (
            st.lists(kids, max_size=3).map(S.or_conditions)
            | st.lists(kids, max_size=3).map(S.and_conditions)
        ),
        max_leaves=5,
    )


dim_conditions = st.one_of(
    st.integers(0, 10).map(C.ManifestSplitDimCondition.Axis),
    st.sampled_from(["time", "x", "12", "true", "null", "a b"]).map(
        C.ManifestSplitDimCondition.DimensionName
    ),
    st.builds(C.ManifestSplitDimCondition.Any),
)

s3_options = st.builds(
    C.S3Options,
    st.none() | st.sampled_from(["us-east-1", "auto", "1"]),
    st.none() | st.just("http://localhost:9000"),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.none() | st.integers(0, 1000),
    st.booleans(),
)
str_maps = st.dictionaries(st.sampled_from(["a", "timeout", "x y"]), st.sampled_from(["1", "b"]))
containers = st.one_of(
    s3_options.map(lambda o: ("s3://bucket/", C.ObjectStoreConfig.S3(o))),
    s3_options.map(lambda o: ("s3://compat/x/", C.ObjectStoreConfig.S3Compatible(o))),
    s3_options.map(lambda o: ("tigris://t/", C.ObjectStoreConfig.Tigris(o))),
    str_maps.map(lambda m: ("gs://g/", C.gcs_store(m))),
    str_maps.map(lambda m: ("https://h.example/", C.http_store(m))),
    str_maps.map(lambda m: ("az://acct/", C.azure_store(account="acct", config=m))),
    st.sampled_from(["/tmp/a", "/tmp/b c", "relative"]).map(
        lambda p: ("file:///data/", C.local_filesystem_store(p))
    ),
)


@st.composite
def repository_configs(draw: st.DrawFn) -> C.RepositoryConfig:
    maybe = lambda s: draw(st.none() | s)
    cfg = C.RepositoryConfig(
        inline_chunk_threshold_bytes=maybe(st.integers(0, 2**16 - 1)),
        get_partial_values_concurrency=maybe(st.integers(0, 2**16 - 1)),
        compression=maybe(
            st.builds(
                C.CompressionConfig,
                st.none() | st.just(C.CompressionAlgorithm.Zstd),
                st.none() | st.integers(0, 255),
            )
        ),
        max_concurrent_requests=maybe(st.integers(0, 2**16 - 1)),
        caching=maybe(st.builds(C.CachingConfig, *[st.none() | st.integers(0, 2**64 - 1)] * 5)),
        storage=maybe(
            st.builds(
                C.StorageSettings,
                st.none()
                | st.builds(
                    C.StorageConcurrencySettings,
                    st.none() | st.integers(1, 2**16 - 1),
                    st.none() | st.integers(1, 2**64 - 1),
                ),
                st.none()
                | st.builds(
                    C.StorageRetriesSettings,
                    st.none() | st.integers(1, 2**16 - 1),
                    st.none() | u32,
                    st.none() | u32,
                ),
                st.none() | st.booleans(),
                st.none() | st.booleans(),
                st.none() | st.booleans(),
                st.none() | st.sampled_from(["STANDARD", "true", "123"]),
                st.none() | st.just("STANDARD_IA"),
                st.none() | st.just("GLACIER"),
                st.none() | st.integers(0, 2**64 - 1),
            )
        ),
        manifest=maybe(
            st.builds(
                C.ManifestConfig,
                st.none()
                | st.builds(
                    C.ManifestPreloadConfig, st.none() | u32, st.none() | preload_conditions()
                ),
                st.none()
                | st.lists(
                    st.tuples(
                        split_conditions(),
                        st.lists(st.tuples(dim_conditions, u32), max_size=3).map(tuple),
                    ),
                    max_size=3,
                ).map(lambda x: C.ManifestSplittingConfig(tuple(x))),
            )
        ),
    )
    vcc_mode = draw(st.sampled_from(["none", "cleared", "some"]))
    if vcc_mode == "cleared":
        cfg.clear_virtual_chunk_containers()
    elif vcc_mode == "some":
        for prefix, store in draw(st.lists(containers, max_size=4)):
            cfg.set_virtual_chunk_container(C.VirtualChunkContainer(prefix, store))
    return cfg


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(repository_configs())
def test_yaml_round_trip(cfg: C.RepositoryConfig) -> None:
    data = C.config_to_yaml(cfg)
    back = C.config_from_yaml(data)
    assert back == cfg
    assert C.config_to_yaml(back) == data


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(repository_configs())
def test_pickle_and_copy_round_trip(cfg: C.RepositoryConfig) -> None:
    assert pickle.loads(pickle.dumps(cfg)) == cfg
    assert cloudpickle.loads(cloudpickle.dumps(cfg)) == cfg
    assert copy.deepcopy(cfg) == cfg
    assert repr(cfg).startswith("RepositoryConfig(")


@settings(max_examples=60, deadline=None)
@given(repository_configs(), repository_configs())
def test_merge_properties(a: C.RepositoryConfig, b: C.RepositoryConfig) -> None:
    m = a.merge(b)
    for f in (
        "inline_chunk_threshold_bytes",
        "get_partial_values_concurrency",
        "max_concurrent_requests",
    ):
        assert getattr(m, f) == (getattr(b, f) if getattr(b, f) is not None else getattr(a, f))
    assert a.merge(C.RepositoryConfig()) == a
    assert C.RepositoryConfig().merge(b) == b
    expected_vccs = b.virtual_chunk_containers
    if expected_vccs is None:
        expected_vccs = a.virtual_chunk_containers
    assert m.virtual_chunk_containers == expected_vccs


# --- behaviour of the objects ---------------------------------------------------------------


def test_defaults_are_unset_and_effective_values() -> None:
    c = C.RepositoryConfig.default()
    assert c == C.RepositoryConfig()
    for f in C.RepositoryConfig._field_names():
        assert getattr(c, f) is None
    assert C.CompressionConfig.default() == C.CompressionConfig()
    assert C.CompressionAlgorithm.default() is C.CompressionAlgorithm.Zstd
    eff = c._with_defaults()
    assert eff.inline_chunk_threshold_bytes == 512 == c._effective_inline_chunk_threshold()
    assert eff.get_partial_values_concurrency == 10
    assert eff.max_concurrent_requests == 256
    assert eff.compression == C.CompressionConfig(C.CompressionAlgorithm.Zstd, 3)
    assert c._effective_compression_level() == 3
    assert eff.caching == C.CachingConfig(500_000, 15_000_000, 0, 0, 0)
    assert eff.storage is not None
    assert eff.storage.concurrency == C.StorageConcurrencySettings(18, 12 * 1024 * 1024)
    assert eff.storage.retries == C.StorageRetriesSettings(10, 100, 180_000)
    assert eff.storage.unsafe_use_conditional_create is True
    assert eff.storage.minimum_size_for_multipart_upload == 100 * 1024 * 1024
    assert eff.manifest is not None and eff.manifest.preload is not None
    assert eff.manifest.preload.max_total_refs == 10_000
    assert eff.manifest.splitting is None
    assert eff.virtual_chunk_containers == {}
    # the original is untouched
    assert c == C.RepositoryConfig()


def test_effective_values_keep_what_is_set() -> None:
    c = C.RepositoryConfig(
        inline_chunk_threshold_bytes=0,
        compression=C.CompressionConfig(level=7),
        storage=C.StorageSettings(storage_class="X", chunks_storage_class="Y"),
    )
    eff = c._with_defaults()
    assert eff.inline_chunk_threshold_bytes == 0
    assert eff.compression is not None and eff.compression.level == 7
    assert eff.storage is not None
    assert (eff.storage.metadata_storage_class, eff.storage.chunks_storage_class) == ("X", "Y")


def test_default_preload_condition_matches_coordinates() -> None:
    cond = C.default_preload_condition()
    assert cond._matches("/group/time", 10)
    assert cond._matches("/latitude", 1000)
    assert not cond._matches("/latitude", 1001)
    assert not cond._matches("/temperature", 1)


def test_nested_objects_are_shared_like_upstream() -> None:
    c = C.RepositoryConfig(caching=C.CachingConfig())
    assert c.caching is not None
    c.caching.num_chunk_refs = 5
    assert c.caching.num_chunk_refs == 5
    c.storage = C.StorageSettings()
    c.storage.storage_class = "X"
    assert c.storage.storage_class == "X"


def test_settable_and_unknown_attributes() -> None:
    c = C.RepositoryConfig()
    c.inline_chunk_threshold_bytes = 4096
    c.get_partial_values_concurrency = 8
    c.max_concurrent_requests = 100
    c.compression = C.CompressionConfig(level=3, algorithm=C.CompressionAlgorithm.Zstd)
    assert c.inline_chunk_threshold_bytes == 4096
    with pytest.raises(AttributeError):
        c.inline_chunk_treshold_bytes = 1  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        c.virtual_chunk_containers = {}  # type: ignore[misc]
    with pytest.raises(AttributeError):
        C.ManifestPreloadCondition.true().x = 1  # type: ignore[attr-defined]
    spec = C.VirtualChunkSpec([0, 1], "s3://b/x.nc", 0, 10)
    with pytest.raises(AttributeError):
        spec.offset = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda: C.RepositoryConfig(inline_chunk_threshold_bytes=-1), ConfigError),
        (lambda: C.RepositoryConfig(inline_chunk_threshold_bytes=70_000), ConfigError),
        (lambda: C.RepositoryConfig(inline_chunk_threshold_bytes="512"), TypeError),
        (lambda: C.RepositoryConfig(max_concurrent_requests=-5), ConfigError),
        (lambda: C.RepositoryConfig(compression=C.CachingConfig()), TypeError),
        (lambda: C.CompressionConfig(level=256), ConfigError),
        (lambda: C.CompressionConfig(algorithm="zstd"), TypeError),  # type: ignore[arg-type]
        (lambda: C.CachingConfig(num_chunk_refs=-1), ConfigError),
        (lambda: C.StorageRetriesSettings(max_tries=0), ConfigError),
        (lambda: C.StorageConcurrencySettings(ideal_concurrent_request_size=0), ConfigError),
        (lambda: C.StorageSettings(unsafe_use_metadata="yes"), TypeError),
        (lambda: C.ManifestPreloadConfig(max_total_refs=-1), ConfigError),
        (lambda: C.ManifestPreloadCondition.num_refs(-1, 3), ConfigError),
        (lambda: C.ManifestPreloadCondition.path_matches("("), ConfigError),
        (lambda: C.ManifestSplitCondition.name_matches("[a"), ConfigError),
        (lambda: C.ManifestSplitDimCondition.Axis(-1), ConfigError),
        (
            lambda: C.ManifestSplittingConfig.from_dict(
                {C.ManifestSplitCondition.AnyArray(): {C.ManifestSplitDimCondition.Any(): -1}}
            ),
            ConfigError,
        ),
        (lambda: C.ManifestSplittingConfig({"a": 1}), TypeError),  # type: ignore[arg-type]
        (lambda: C.S3Options(allow_http=None), TypeError),  # type: ignore[arg-type]
        (lambda: C.ObjectStoreConfig.Gcs({"a": 1}), TypeError),  # type: ignore[dict-item]
        (lambda: C.VirtualChunkContainer("s3://b/", "s3"), TypeError),  # type: ignore[arg-type]
        (lambda: C.VirtualChunkSpec([-1], "s3://b/x", 0, 1), ConfigError),
        (lambda: C.ManifestPreloadCondition.or_conditions([1]), TypeError),  # type: ignore[list-item]
    ],
)
def test_invalid_values(make: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        make()


S3 = C.s3_store()
VCC_CASES = [
    # (url_prefix, store, error substring or None) — observed behaviour of upstream 1.1.21
    ("s3://b/", C.gcs_store(), "Invalid url prefix scheme (s3)"),
    ("gs://b/", S3, "Invalid url prefix scheme (gs)"),
    ("s3://", S3, "must include a host"),
    ("s3:/b/", S3, "must include a host"),
    ("s3://b", S3, "must end in a / character"),
    ("s3://b/c?x=1", S3, "must end in a / character"),
    ("", S3, "must end in a / character"),
    ("https://b/", C.http_store(), None),
    ("http://b/", C.http_store(), None),
    ("http://", C.http_store(), "empty host"),
    ("ftp://b/", C.http_store(), "Invalid url prefix scheme (ftp)"),
    ("file:///x/", S3, "Invalid url prefix scheme (file)"),
    ("file:///x/", C.local_filesystem_store("/y"), None),
    ("file://x/", C.local_filesystem_store("/y"), None),
    ("file:///", C.local_filesystem_store("/y"), "must include a path"),
    ("/x/", C.local_filesystem_store("/y"), "not an absolute URL"),
    ("az://x/", C.azure_store(account="a"), None),
    ("azure://x/", C.azure_store(account="a"), None),
    ("abfs://x/", C.azure_store(account="a"), None),
    ("az://x/", S3, "Invalid url prefix scheme (az)"),
    ("s3://b/", C.ObjectStoreConfig.S3Compatible(C.S3Options()), None),
    ("s3://b/", C.ObjectStoreConfig.Tigris(C.S3Options()), None),
    ("tigris://b/", C.ObjectStoreConfig.Tigris(C.S3Options()), None),
    ("gcs://b/", C.gcs_store(), None),
    ("gs://", C.gcs_store(), "must include a host"),
    ("S3://b/", S3, None),
    ("s3a://b/", S3, "Invalid url prefix scheme (s3a)"),
    ("memory://x/", C.ObjectStoreConfig.InMemory(), "Invalid url prefix scheme (memory)"),
    ("s3://b:9000/", S3, None),
]


@pytest.mark.parametrize("prefix, store, error", VCC_CASES)
def test_virtual_chunk_container_validation(prefix: str, store: Any, error: str | None) -> None:
    cfg = C.RepositoryConfig()
    cont = C.VirtualChunkContainer(prefix, store)  # the constructor does not validate
    if error is None:
        cfg.set_virtual_chunk_container(cont)
        assert cfg.get_virtual_chunk_container(prefix) == cont
    else:
        with pytest.raises(ConfigError, match=__import__("re").escape(error)):
            cfg.set_virtual_chunk_container(cont)
        assert cfg.virtual_chunk_containers is None


def test_virtual_chunk_containers_api() -> None:
    cfg = C.RepositoryConfig()
    assert cfg.virtual_chunk_containers is None
    cont = C.VirtualChunkContainer("s3://b/", C.s3_store(region="us-east-1"))
    cfg.set_virtual_chunk_container(cont)
    cont.url_prefix = "s3://changed/"  # the configuration kept its own copy
    got = cfg.virtual_chunk_containers
    assert got is not None and list(got) == ["s3://b/"]
    got["s3://zz/"] = cont  # a copy: no effect on the config
    assert list(cfg.virtual_chunk_containers or {}) == ["s3://b/"]
    cfg.set_virtual_chunk_container(C.VirtualChunkContainer("s3://b/", C.s3_store(region="x")))
    store = cfg.virtual_chunk_containers["s3://b/"].store  # type: ignore[index]
    assert store._0.region == "x"
    assert cfg.get_virtual_chunk_container("nope") is None
    cfg.clear_virtual_chunk_containers()
    assert cfg.virtual_chunk_containers == {}
    assert cfg != C.RepositoryConfig()  # {} is not None, as upstream


def test_merge_semantics_match_upstream() -> None:
    a = C.RepositoryConfig(
        inline_chunk_threshold_bytes=5,
        caching=C.CachingConfig(num_chunk_refs=1, num_snapshot_nodes=2),
        storage=C.StorageSettings(storage_class="A", retries=C.StorageRetriesSettings(max_tries=3)),
        manifest=C.ManifestConfig(preload=C.ManifestPreloadConfig(max_total_refs=3)),
    )
    a.set_virtual_chunk_container(C.VirtualChunkContainer("s3://b/", C.s3_store()))
    b = C.RepositoryConfig(
        get_partial_values_concurrency=6,
        caching=C.CachingConfig(num_chunk_refs=9),
        storage=C.StorageSettings(
            chunks_storage_class="B", retries=C.StorageRetriesSettings(initial_backoff_ms=4)
        ),
        manifest=C.ManifestConfig(
            preload=C.ManifestPreloadConfig(preload_if=C.ManifestPreloadCondition.true())
        ),
    )
    b.set_virtual_chunk_container(C.VirtualChunkContainer("s3://c/", C.s3_store()))
    m = a.merge(b)
    assert m.inline_chunk_threshold_bytes == 5
    assert m.get_partial_values_concurrency == 6
    assert m.caching == C.CachingConfig(num_snapshot_nodes=2, num_chunk_refs=9)
    assert m.storage == C.StorageSettings(
        retries=C.StorageRetriesSettings(3, 4, None), storage_class="A", chunks_storage_class="B"
    )
    # preload is replaced whole (upstream: other.preload.or(self.preload))
    assert m.manifest == b.manifest
    assert list(m.virtual_chunk_containers or {}) == ["s3://c/"]
    assert list(a.merge(C.RepositoryConfig()).virtual_chunk_containers or {}) == ["s3://b/"]
    cleared = C.RepositoryConfig()
    cleared.clear_virtual_chunk_containers()
    assert a.merge(cleared).virtual_chunk_containers == {}
    # merging never aliases the inputs
    assert m.caching is not b.caching and m.caching is not a.caching


def test_conditions_and_combinators() -> None:
    P = C.ManifestPreloadCondition
    x = P.true() & P.false() & P.true()
    assert isinstance(x, P.And) and isinstance(x, P)
    assert len(x._0) == 2 and isinstance(x._0[0], P.And)
    assert isinstance(P.true(), getattr(P, "True"))
    assert isinstance(P.false(), getattr(P, "False"))
    n = P.num_refs(1, 10)
    assert (getattr(n, "from"), n.to) == (1, 10)
    assert n._matches("/a", 1) and n._matches("/a", 9) and not n._matches("/a", 10)
    assert P.path_matches("^/a/").regex == "^/a/"
    assert P.name_matches("temp")._matches("/model/outputs/temperature", 0)
    assert not P.path_matches("^temp")._matches("/model/temperature", 0)
    assert (P.or_conditions([P.false(), P.true()]))._matches("/x", 0)
    assert not (P.and_conditions([P.false(), P.true()]))._matches("/x", 0)
    assert P.path_matches("a") == P.path_matches("a") != P.name_matches("a")

    S = C.ManifestSplitCondition
    D = C.ManifestSplitDimCondition
    assert S.AnyArray() == S.AnyArray() and hash(S.AnyArray()) == hash(S.AnyArray())
    assert isinstance(S.AnyArray() | S.name_matches("t"), S.Or)
    assert isinstance(S.AnyArray() & S.name_matches("t"), S.And)
    assert D.Axis(1) == D.Axis(1) and D.Axis(1) != D.Axis(2)
    assert D.DimensionName("t")._0 == "t"
    cfg = C.ManifestSplittingConfig.from_dict(
        {
            S.name_matches("^temp"): {D.DimensionName("time"): 12, D.Any(): 100},
            S.AnyArray(): {D.Axis(0): 5},
        }
    )
    assert cfg._split_size("/temperature", 0, "time") == 12
    assert cfg._split_size("/temperature", 1, "lat") == 100
    assert cfg._split_size("/other", 0, None) == 5
    assert cfg._split_size("/other", 1, None) is None
    assert C.ManifestSplittingConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.split_sizes[0][1][0] == (D.DimensionName("time"), 12)
    cfg.split_sizes = ()  # type: ignore[assignment]
    assert cfg.split_sizes == []
    assert C.ManifestSplittingConfig().split_sizes is None


ALL_VALUES = [
    C.RepositoryConfig(),
    C.CompressionConfig(C.CompressionAlgorithm.Zstd, 3),
    C.CompressionAlgorithm.Zstd,
    C.CachingConfig(1, 2, 3, 4, 5),
    C.StorageSettings(C.StorageConcurrencySettings(1, 2), C.StorageRetriesSettings(1, 2, 3)),
    C.ManifestConfig(C.ManifestPreloadConfig(1, C.default_preload_condition())),
    C.ManifestSplittingConfig.from_dict(
        {C.ManifestSplitCondition.AnyArray(): {C.ManifestSplitDimCondition.Axis(0): 2}}
    ),
    C.ManifestPreloadCondition.num_refs(None, 3),
    getattr(C.ManifestPreloadCondition, "True")(),
    C.S3Options(region="r"),
    C.s3_store(region="r"),
    C.s3_store(s3_compatible=True),
    C.gcs_store({"a": "b"}),
    C.http_store(),
    C.local_filesystem_store("/x"),
    C.azure_store(account="a"),
    C.ObjectStoreConfig.InMemory(),
    C.ObjectStoreConfig.Tigris(C.S3Options()),
    C.VirtualChunkContainer("s3://b/", C.s3_store()),
    C.VirtualChunkSpec([0, 1], "s3://b/x.nc", 10, 20, "etag"),
    *SAMPLES.values(),
]


@pytest.mark.parametrize("value", ALL_VALUES, ids=lambda v: type(v).__qualname__)
def test_values_pickle_compare_and_repr(value: Any) -> None:
    assert pickle.loads(pickle.dumps(value)) == value
    assert cloudpickle.loads(cloudpickle.dumps(value)) == value
    assert copy.deepcopy(value) == value
    assert copy.copy(value) == value
    assert type(value).__qualname__.split(".")[0] in repr(value) or repr(value)


def test_object_store_variants() -> None:
    O = C.ObjectStoreConfig
    s = C.s3_store(region="us-east-1")
    assert isinstance(s, O.S3) and isinstance(s, O)
    assert s._0.network_stream_timeout_seconds == 60
    assert isinstance(C.s3_store(s3_compatible=True), O.S3Compatible)
    opts = C.S3Options(region="r")
    st3 = O.S3(opts)
    opts.region = "z"  # the store keeps its own copy, as upstream
    assert st3._0.region == "r"
    assert C.azure_store(account="acc", config={"k": "v"})._0 == {"account": "acc", "k": "v"}
    assert C.local_filesystem_store(Path("/tmp/x"))._0 == Path("/tmp/x")  # type: ignore[arg-type]
    assert C.s3_store() == C.s3_store() and C.s3_store() != C.s3_store(s3_compatible=True)
    assert hash(C.s3_store()) == hash(C.s3_store())
    spec = C.VirtualChunkSpec([1, 2], "s3://b/f.nc", 0, 5, last_updated_at_checksum=None)
    assert spec.index == [1, 2] and spec.location == "s3://b/f.nc" and spec.length == 5


@pytest.mark.parametrize(
    "text, where",
    [
        ("a: [", "not valid YAML"),
        ("[1, 2]", "expected a mapping"),
        ("inline_chunk_threshold_bytes: -5\n", "inline_chunk_threshold_bytes"),
        ("inline_chunk_threshold_bytes: 70000\n", "inline_chunk_threshold_bytes"),
        ("inline_chunk_threshold_bytes: abc\n", "inline_chunk_threshold_bytes"),
        ("compression: {algorithm: lz4}\n", "compression.algorithm"),
        ("compression: {level: 300}\n", "compression"),
        ("storage: {retries: {max_tries: 0}}\n", "storage.retries"),
        ("caching: 5\n", "caching"),
        (
            "virtual_chunk_containers:\n  s3://b/:\n    url_prefix: s3://b/\n",
            "missing field 'store'",
        ),
        (
            "virtual_chunk_containers:\n  s3://b/:\n    url_prefix: s3://b/\n    store: !ftp {}\n",
            "unknown object store type 'ftp'",
        ),
        (
            "virtual_chunk_containers:\n  s3://b/:\n    store: !s3 {allow_http: maybe}\n",
            "allow_http",
        ),
        ("manifest:\n  preload:\n    preload_if: !sometimes {}\n", "preload_if"),
        (
            "manifest:\n  preload:\n    preload_if: !num_refs {from: !Around 1, to: Unbounded}\n",
            "preload_if.from",
        ),
        ("manifest:\n  preload:\n    preload_if: !path_matches {regex: '('}\n", "preload_if"),
        (
            (
                "manifest:\n  splitting:\n    split_sizes:\n    - - any_array\n"
                "      - - condition: !Axis 1\n          num_chunks: 5000000000\n"
            ),
            "split_sizes",
        ),
        ("manifest:\n  splitting:\n    split_sizes: [[any_array]]\n", "split_sizes[0]"),
    ],
)
def test_invalid_yaml_is_a_clear_config_error(text: str, where: str) -> None:
    with pytest.raises(ConfigError, match=__import__("re").escape(where)) as info:
        C.config_from_yaml(text.encode())
    assert "config.yaml" in str(info.value)


def test_lenient_yaml_reading_like_upstream() -> None:
    assert C.config_from_yaml(b"") == C.RepositoryConfig()
    assert C.config_from_yaml(b"{}") == C.RepositoryConfig()
    assert C.config_from_yaml(b"inline_chunk_threshold_bytes: 5\nbogus: 1\n") == (
        C.RepositoryConfig(inline_chunk_threshold_bytes=5)
    )
    # unit variants: bare booleans, quoted strings and empty tags all read
    for form in ("true", "'true'", "!true"):
        c = C.config_from_yaml(f"manifest:\n  preload:\n    preload_if: {form}\n".encode())
        assert c.manifest is not None and c.manifest.preload is not None
        assert c.manifest.preload.preload_if == C.ManifestPreloadCondition.true()
    # a saved name is kept, and a container's S3 options may omit the booleans
    c = C.config_from_yaml(
        b"virtual_chunk_containers:\n  s3://b/:\n    name: old\n    url_prefix: s3://b/\n"
        b"    store: !s3 {region: x}\n"
    )
    vcc = (c.virtual_chunk_containers or {})["s3://b/"]
    assert vcc.name == "old" and vcc.store == C.ObjectStoreConfig.S3(C.S3Options(region="x"))
    # the default preload condition's inclusive upper bound survives a round trip
    n = C.config_from_yaml(
        b"manifest:\n  preload:\n    preload_if: !num_refs\n      from: Unbounded\n"
        b"      to: !Included 1000\n"
    )
    cond = n.manifest.preload.preload_if  # type: ignore[union-attr]
    assert b"to: !Included 1000" in C.config_to_yaml(n)
    assert cond._matches("/x", 1000) and not cond._matches("/x", 1001)


# --- signatures against upstream ------------------------------------------------------------

SIGNATURES = """
import inspect, json, sys
import icechunk, icechunk.storage
names = sys.argv[2].split(",")
out = {}
for n in names:
    obj = icechunk
    for part in n.split("."):
        obj = getattr(obj, part) if hasattr(obj, part) else getattr(icechunk.storage, part)
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        continue
    out[n] = [[p.name, p.kind.name, repr(p.default)] for p in sig.parameters.values()]
json.dump(out, open(sys.argv[1], "w"))
"""

SIGNATURE_NAMES = [
    "RepositoryConfig",
    "CompressionConfig",
    "CachingConfig",
    "StorageSettings",
    "StorageConcurrencySettings",
    "StorageRetriesSettings",
    "ManifestConfig",
    "ManifestPreloadConfig",
    "ManifestSplittingConfig",
    "VirtualChunkContainer",
    "VirtualChunkSpec",
    "S3Options",
    "s3_store",
    "gcs_store",
    "http_store",
    "local_filesystem_store",
    "azure_store",
]


@pytest.mark.interop
def test_signatures_match_upstream(tmp_path: Path) -> None:
    out = tmp_path / "sigs.json"
    run_upstream(SIGNATURES, str(out), ",".join(SIGNATURE_NAMES))
    upstream = json.loads(out.read_text())
    assert set(upstream) >= {"RepositoryConfig", "s3_store", "azure_store"}
    import inspect

    for name, params in upstream.items():
        ours = inspect.signature(getattr(NS, name))
        got = [[p.name, p.kind.name, repr(p.default)] for p in ours.parameters.values()]
        if name in EXTENDED_SIGNATURES:
            got = EXTENDED_SIGNATURES[name](got)
        assert got == params, name


def _upstream_container_signature(got: list[list[str]]) -> list[list[str]]:
    """Our VirtualChunkContainer also takes ``store_config=`` (the reference's spelling)."""
    kept = [p for p in got if p[0] != "store_config"]
    return [[n, k, "<class 'inspect._empty'>" if n == "store" else d] for n, k, d in kept]


# documented extensions of upstream signatures, mapped back to upstream's form
EXTENDED_SIGNATURES = {"VirtualChunkContainer": _upstream_container_signature}


def test_virtual_chunk_container_accepts_the_references_keyword() -> None:
    import icechunk

    store = icechunk.s3_store(region="us-east-1")
    by_reference = icechunk.VirtualChunkContainer(url_prefix="s3://bucket/", store_config=store)
    by_upstream = icechunk.VirtualChunkContainer("s3://bucket/", store)
    assert by_reference.store == by_upstream.store == store
    with pytest.raises(TypeError, match="exactly one"):
        icechunk.VirtualChunkContainer("s3://bucket/")


def test_storage_default_settings_are_populated() -> None:
    for storage, request_size in (
        (ic.in_memory_storage(), 1),
        (ic.local_filesystem_storage("/tmp/never-created-by-this-test"), 4096),
    ):
        settings = storage.default_settings()
        assert settings.concurrency is not None and settings.retries is not None
        assert settings.concurrency.max_concurrent_requests_for_object == 5
        assert settings.concurrency.ideal_concurrent_request_size == request_size
        assert settings.retries.max_tries == 1
        settings.retries.max_tries = 42  # a new object each time: changing it changes nothing
        assert storage.default_settings().retries.max_tries == 1  # type: ignore[union-attr]
    s3 = ic.s3_storage(bucket="b", prefix="p", region="us-east-1", anonymous=True)
    settings = s3.default_settings()
    assert settings.retries is not None and settings.retries.max_tries == 10
    assert settings.concurrency is not None


def test_reprs_print_upstreams_fields_in_its_order() -> None:
    config = ic.RepositoryConfig.default()
    assert repr(config) == (
        "RepositoryConfig(inline_chunk_threshold_bytes=None, get_partial_values_concurrency=None, "
        "compression=None, caching=None, storage=None, manifest=None)"
    )
    config.caching = ic.CachingConfig(num_chunk_refs=8)
    config.storage = ic.StorageSettings(
        retries=ic.StorageRetriesSettings(max_tries=3), storage_class="STANDARD_IA"
    )
    config.max_concurrent_requests = 10  # not printed by upstream: follows, since it is set
    assert repr(config) == (
        "RepositoryConfig(inline_chunk_threshold_bytes=None, get_partial_values_concurrency=None, "
        "compression=None, caching=CachingConfig(num_snapshot_nodes=None, num_chunk_refs=8, "
        "num_transaction_changes=None, num_bytes_attributes=None, num_bytes_chunks=None), "
        "storage=StorageSettings(concurrency=None, retries=StorageRetriesSettings(max_tries=3, "
        "initial_backoff_ms=None, max_backoff_ms=None), unsafe_use_conditional_create=None, "
        "unsafe_use_conditional_update=None, unsafe_use_metadata=None, "
        'storage_class="STANDARD_IA", metadata_storage_class=None, chunks_storage_class=None), '
        "manifest=None, max_concurrent_requests=10)"
    )


def test_caching_config_default_is_all_unset() -> None:
    assert ic.CachingConfig.default() == ic.CachingConfig()
    assert ic.CachingConfig.default().num_chunk_refs is None


def test_storage_repr_of_memory_and_local_storage_is_upstreams(tmp_path: Path) -> None:
    assert repr(ic.in_memory_storage()) == "ObjectStorage(backend=InMemoryObjectStoreBackend)"
    assert repr(ic.local_filesystem_storage(str(tmp_path))) == (
        f"ObjectStorage(backend=LocalFileSystemObjectStoreBackend(path={tmp_path}))"
    )


def test_retries_effective_values_and_backoff() -> None:
    unset = C.StorageRetriesSettings()
    assert unset._key() == (10, 100, 180_000)
    assert unset._with_defaults() == C.StorageRetriesSettings(10, 100, 180_000)
    assert unset == C.StorageRetriesSettings()  # untouched
    # only max_tries set: the documented backoff defaults still apply
    only_tries = C.StorageRetriesSettings(max_tries=3)
    assert only_tries._key() == (3, 100, 180_000)
    assert hash(only_tries._key()) == hash((3, 100, 180_000))
    # exponential, capped at max_backoff_ms, jittered within [ceiling / 2, ceiling]
    r = C.StorageRetriesSettings(max_tries=5, initial_backoff_ms=100, max_backoff_ms=1000)
    for attempt, ceiling in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (30, 1.0)]:
        for _ in range(20):
            assert ceiling / 2 <= r._backoff_seconds(attempt) <= ceiling
    assert C.StorageRetriesSettings(initial_backoff_ms=0)._backoff_seconds(3) == 0.0


def test_every_record_has_effective_values_from_the_defaults_table() -> None:
    d = C.defaults
    assert C.S3Options()._with_defaults().network_stream_timeout_seconds == (
        d.S3_NETWORK_STREAM_TIMEOUT_SECONDS
    )
    assert C.S3Options(network_stream_timeout_seconds=0)._with_defaults() == C.S3Options(
        network_stream_timeout_seconds=0
    )
    eff = C.RepositoryConfig()._with_defaults()
    assert eff.storage is not None and eff.storage.retries is not None
    assert eff.storage.retries._key() == (d.MAX_TRIES, d.INITIAL_BACKOFF_MS, d.MAX_BACKOFF_MS)
    assert eff.caching == C.CachingConfig(
        d.NUM_SNAPSHOT_NODES,
        d.NUM_CHUNK_REFS,
        d.NUM_TRANSACTION_CHANGES,
        d.NUM_BYTES_ATTRIBUTES,
        d.NUM_BYTES_CHUNKS,
    )
    # the effective copy shares no record with the original
    cfg = C.RepositoryConfig(caching=C.CachingConfig(num_chunk_refs=1))
    eff = cfg._with_defaults()
    assert eff.caching is not None and cfg.caching is not None
    eff.caching.num_chunk_refs = 2
    assert cfg.caching.num_chunk_refs == 1


def test_preload_and_split_conditions_share_one_algebra_but_do_not_mix() -> None:
    P, S = C.ManifestPreloadCondition, C.ManifestSplitCondition
    for family in (P, S):
        a, b = family.name_matches("^t$"), family.path_matches("^/g/")
        assert isinstance(a | b, family) and isinstance(a & b, family)
        assert (a | b) == family.Or([a, b]) == family.or_conditions([a, b])
        assert (a & b)._matches("/g/t") and not (a & b)._matches("/h/t")
        assert (a | b)._matches("/h/t") and not (a | b)._matches("/h/x")
    assert P.name_matches("x") != S.name_matches("x")
    assert repr(S.name_matches("x") | S.AnyArray()) == (
        "ManifestSplitCondition.Or([ManifestSplitCondition.NameMatches('x'), "
        "ManifestSplitCondition.AnyArray()])"
    )
    with pytest.raises(TypeError, match="needs a list of ManifestSplitCondition"):
        S.or_conditions([P.true()])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="needs a list of ManifestPreloadCondition"):
        P.name_matches("x") | S.AnyArray()  # type: ignore[operator]
