"""Credential value objects and helper functions, checked against upstream Icechunk 1.1."""

from __future__ import annotations

import copy
import datetime
import inspect
import json
import pickle
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
from _helpers.upstream import run_upstream

from icechunk import credentials as CR
from icechunk._exceptions import CredentialsFetchError

EXPIRY = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)


def module_level_s3() -> CR.S3StaticCredentials:
    return CR.S3StaticCredentials("key", "secret", expires_after=EXPIRY)


def module_level_gcs() -> CR.GcsBearerCredential:
    return CR.GcsBearerCredential("token", expires_after=EXPIRY)


# --- constructors -----------------------------------------------------------------------------


def test_s3_static_credentials() -> None:
    s = CR.S3StaticCredentials("a", "b", "c", EXPIRY)
    assert (s.access_key_id, s.secret_access_key, s.session_token, s.expires_after) == (
        "a",
        "b",
        "c",
        EXPIRY,
    )
    assert s == CR.S3StaticCredentials("a", "b", "c", EXPIRY)
    s.access_key_id = "z"  # settable, as upstream
    assert s.access_key_id == "z"
    secret = CR.S3StaticCredentials("a", "SECRETKEY", "SESSIONTOKEN")
    assert "SECRETKEY" not in repr(secret) and "SESSIONTOKEN" not in repr(secret)
    with pytest.raises(TypeError):
        CR.S3StaticCredentials(None, "b")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        CR.S3StaticCredentials("a", "b", expires_after="tomorrow")  # type: ignore[arg-type]


def test_variants_and_isinstance() -> None:
    assert isinstance(CR.s3_anonymous_credentials(), CR.S3Credentials)
    assert isinstance(CR.s3_anonymous_credentials(), CR.S3Credentials.Anonymous)
    assert isinstance(CR.s3_from_env_credentials(), CR.S3Credentials.FromEnv)
    static = CR.s3_static_credentials(access_key_id="a", secret_access_key="b")
    assert isinstance(static, CR.S3Credentials.Static)
    assert static._0 == CR.S3StaticCredentials("a", "b")
    assert CR.S3Credentials.Static.__qualname__ == "S3Credentials.Static"
    assert isinstance(CR.gcs_credentials(bearer_token="t"), CR.GcsCredentials.Static)
    assert CR.gcs_credentials(bearer_token="t")._0 == CR.GcsStaticCredentials.BearerToken("t")
    assert isinstance(CR.gcs_credentials(), CR.GcsCredentials.FromEnv)
    assert isinstance(CR.gcs_credentials(anonymous=True), CR.GcsCredentials.Anonymous)
    assert isinstance(CR.azure_credentials(), CR.AzureCredentials.FromEnv)
    az = CR.azure_credentials(sas_token="s")
    assert isinstance(az, CR.AzureCredentials.Static)
    assert az._0 == CR.AzureStaticCredentials.SasToken("s")
    assert isinstance(CR.Credentials.S3(static), CR.Credentials)
    for alias, member in [
        (CR.AnyS3Credential, static),
        (CR.AnyGcsCredential, CR.gcs_credentials()),
        (CR.AnyGcsStaticCredential, CR.gcs_static_credentials(service_account_file="/f")),
        (CR.AnyAzureCredential, az),
        (CR.AnyAzureStaticCredential, CR.azure_static_credentials(access_key="k")),
        (CR.AnyCredential, CR.Credentials.Gcs(CR.gcs_credentials())),
    ]:
        assert isinstance(member, alias)


@pytest.mark.parametrize(
    "make",
    [
        lambda: CR.S3Credentials.Static("x"),
        lambda: CR.Credentials.S3("x"),
        lambda: CR.Credentials.Gcs(CR.s3_anonymous_credentials()),
        lambda: CR.Credentials.Azure(CR.gcs_credentials()),
        lambda: CR.GcsCredentials.Static(CR.AzureStaticCredentials.AccessKey("k")),
        lambda: CR.AzureCredentials.Static("k"),
        lambda: CR.GcsStaticCredentials.ServiceAccount(3),
        lambda: CR.GcsBearerCredential(None),
        lambda: CR.S3Credentials.Refreshable(b"x", current="not credentials"),
        lambda: CR.S3Credentials.Refreshable(42),
    ],
)
def test_constructor_type_errors(make: Any) -> None:
    with pytest.raises(TypeError):
        make()


@pytest.mark.parametrize(
    "call",
    [
        lambda: CR.s3_credentials(access_key_id="a"),
        lambda: CR.s3_credentials(anonymous=True, from_env=True),
        lambda: CR.s3_credentials(access_key_id="a", secret_access_key="b", anonymous=True),
        lambda: CR.s3_credentials(from_env=False),
        lambda: CR.s3_credentials(session_token="t"),
        lambda: CR.s3_credentials(get_credentials=module_level_s3, access_key_id="a"),
        lambda: CR.gcs_credentials(from_env=False),
        lambda: CR.gcs_credentials(bearer_token="t", from_env=True),
        lambda: CR.gcs_static_credentials(),
        lambda: CR.azure_credentials(from_env=False),
        lambda: CR.azure_credentials(access_key="k", from_env=True),
        lambda: CR.azure_static_credentials(),
        lambda: CR.azure_static_credentials(access_key="a", sas_token="b"),
    ],
)
def test_conflicting_arguments(call: Any) -> None:
    with pytest.raises(ValueError, match="Conflicting arguments"):
        call()


def test_s3_credentials_selection() -> None:
    assert CR.s3_credentials() == CR.S3Credentials.FromEnv()
    assert CR.s3_credentials(from_env=True) == CR.S3Credentials.FromEnv()
    assert CR.s3_credentials(anonymous=True) == CR.S3Credentials.Anonymous()
    assert CR.s3_credentials(
        access_key_id="a", secret_access_key="b", session_token="t", expires_after=EXPIRY
    ) == CR.S3Credentials.Static(CR.S3StaticCredentials("a", "b", "t", EXPIRY))
    r = CR.s3_credentials(get_credentials=module_level_s3)
    assert isinstance(r, CR.S3Credentials.Refreshable) and r.current is None


def test_gcs_static_priority() -> None:
    assert CR.gcs_static_credentials(
        service_account_file="/f", bearer_token="t"
    ) == CR.GcsStaticCredentials.ServiceAccount("/f")
    assert isinstance(
        CR.gcs_static_credentials(service_account_key="{}"),
        CR.GcsStaticCredentials.ServiceAccountKey,
    )
    assert isinstance(
        CR.gcs_static_credentials(application_credentials="/adc"),
        CR.GcsStaticCredentials.ApplicationCredentials,
    )
    assert CR.azure_static_credentials(bearer_token="b") == CR.AzureStaticCredentials.BearerToken(
        "b"
    )
    assert CR.azure_static_credentials(access_key="k") == CR.AzureStaticCredentials.AccessKey("k")


def test_gcs_bearer() -> None:
    g = CR.GcsBearerCredential("tok", expires_after=EXPIRY)
    assert (g.bearer, g.expires_after) == ("tok", EXPIRY)
    assert g == CR.GcsBearerCredential("tok", expires_after=EXPIRY)
    assert "tok" not in repr(g)
    with pytest.raises(TypeError):
        CR.GcsBearerCredential("tok", EXPIRY)  # type: ignore[misc]  # keyword only
    with pytest.raises(AttributeError):
        g.bearer = "x"  # type: ignore[misc]


# --- refreshable credentials and pickling -----------------------------------------------------


def test_refreshable_with_module_function_plain_pickle() -> None:
    r = CR.s3_refreshable_credentials(module_level_s3)
    assert isinstance(r.pickled_function, bytes)
    back = pickle.loads(pickle.dumps(r))
    assert back == r
    assert back._fetch() == module_level_s3()
    g = CR.gcs_refreshable_credentials(module_level_gcs, scatter_initial_credentials=True)
    assert g.current == module_level_gcs()
    back_g = pickle.loads(pickle.dumps(g))
    assert back_g.current == g.current and back_g._fetch() == module_level_gcs()


def test_refreshable_with_closure_and_cloudpickle() -> None:
    calls: list[int] = []
    secret = "s3cr3t"

    def fetch() -> CR.S3StaticCredentials:
        calls.append(1)
        return CR.S3StaticCredentials("k", secret)

    r = CR.s3_credentials(get_credentials=fetch, scatter_initial_credentials=True)
    assert isinstance(r, CR.S3Credentials.Refreshable)
    assert r.current == CR.S3StaticCredentials("k", secret) and calls == [1]
    for dumps in (pickle.dumps, cloudpickle.dumps):
        back = pickle.loads(dumps(r))
        assert back._fetch() == CR.S3StaticCredentials("k", secret)
    lam = CR.gcs_refreshable_credentials(lambda: CR.GcsBearerCredential("b"))
    assert cloudpickle.loads(cloudpickle.dumps(lam))._fetch() == CR.GcsBearerCredential("b")
    assert pickle.loads(pickle.dumps(lam))._fetch() == CR.GcsBearerCredential("b")


def test_refreshable_from_upstream_style_bytes() -> None:
    raw = pickle.dumps(module_level_s3)
    r = CR.S3Credentials.Refreshable(raw)
    assert r.get_credentials is module_level_s3
    assert r._fetch() == module_level_s3()
    wrong = CR.S3Credentials.Refreshable(pickle.dumps(module_level_gcs))
    with pytest.raises(
        CredentialsFetchError, match="^'GcsBearerCredential' object cannot be cast as "
    ) as info:
        wrong._fetch()
    assert "must return S3StaticCredentials" in str(info.value)


def _raises() -> CR.S3StaticCredentials:
    raise RuntimeError("token service down")


@pytest.mark.parametrize(
    ("function", "words"),
    [
        (42, "^'int' object is not callable: .* raised TypeError"),
        (_raises, "^token service down: .* raised RuntimeError; fix it"),
        (lambda: 42, "^'int' object cannot be cast as 'S3StaticCredentials'"),
    ],
)
def test_refreshable_credentials_fail_when_used_not_when_made(function: Any, words: str) -> None:
    """As upstream: making the credentials never calls the function; using them reports."""
    credentials = CR.s3_refreshable_credentials(function)
    with pytest.raises(CredentialsFetchError, match=words):
        credentials._fetch()
    with pytest.raises(CredentialsFetchError, match=words):
        pickle.loads(pickle.dumps(credentials))._fetch()


class _Counter:
    """A stateful get_credentials object, like a function keeping state in a notebook."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> CR.S3StaticCredentials:
        self.calls += 1
        return CR.S3StaticCredentials("k", f"call-{self.calls}")


def test_refreshable_credentials_call_the_callers_own_object() -> None:
    counter = _Counter()
    credentials = CR.s3_refreshable_credentials(counter)
    assert credentials.get_credentials is counter
    assert credentials._fetch().secret_access_key == "call-1"
    assert credentials._fetch().secret_access_key == "call-2"
    assert counter.calls == 2  # the caller's object, not a copy, kept the state
    clone = pickle.loads(pickle.dumps(credentials))  # a copy carries the state it has now
    assert clone._fetch().secret_access_key == "call-3"
    assert counter.calls == 2


def test_gcs_credentials_with_function() -> None:
    r = CR.gcs_credentials(get_credentials=module_level_gcs)
    assert isinstance(r, CR.GcsCredentials.Refreshable)
    r2 = CR.gcs_credentials(get_credentials=module_level_gcs, from_env=False)
    assert isinstance(r2, CR.GcsCredentials.Refreshable)


ALL_CREDENTIALS = [
    CR.S3StaticCredentials("a", "b", "c", EXPIRY),
    CR.s3_from_env_credentials(),
    CR.s3_anonymous_credentials(),
    CR.s3_static_credentials(access_key_id="a", secret_access_key="b"),
    CR.s3_refreshable_credentials(module_level_s3, scatter_initial_credentials=True),
    CR.GcsBearerCredential("t", expires_after=EXPIRY),
    CR.gcs_static_credentials(service_account_file="/f"),
    CR.gcs_static_credentials(service_account_key="k"),
    CR.gcs_static_credentials(application_credentials="/a"),
    CR.gcs_static_credentials(bearer_token="t"),
    CR.gcs_credentials(),
    CR.gcs_credentials(anonymous=True),
    CR.gcs_credentials(bearer_token="t"),
    CR.gcs_refreshable_credentials(module_level_gcs),
    CR.azure_static_credentials(access_key="k"),
    CR.azure_static_credentials(sas_token="s"),
    CR.azure_static_credentials(bearer_token="b"),
    CR.azure_credentials(),
    CR.azure_credentials(access_key="k"),
    CR.Credentials.S3(CR.s3_anonymous_credentials()),
    CR.Credentials.Gcs(CR.gcs_credentials()),
    CR.Credentials.Azure(CR.azure_credentials()),
]


@pytest.mark.parametrize("value", ALL_CREDENTIALS, ids=lambda v: type(v).__qualname__)
def test_credentials_pickle_copy_eq(value: Any) -> None:
    assert pickle.loads(pickle.dumps(value)) == value
    assert cloudpickle.loads(cloudpickle.dumps(value)) == value
    assert copy.deepcopy(value) == value
    assert isinstance(repr(value), str)
    if not isinstance(value, CR.S3StaticCredentials):
        hash(value)
        with pytest.raises(AttributeError):
            value._0 = 1


def test_secrets_are_not_in_reprs() -> None:
    for value in (
        CR.azure_static_credentials(access_key="SECRETKEY"),
        CR.gcs_static_credentials(service_account_key="SECRETKEY"),
        CR.gcs_static_credentials(bearer_token="SECRETKEY"),
        CR.s3_static_credentials(access_key_id="id", secret_access_key="SECRETKEY"),
    ):
        assert "SECRETKEY" not in repr(value)
    assert "/path/sa.json" in repr(CR.gcs_static_credentials(service_account_file="/path/sa.json"))


# --- containers_credentials -------------------------------------------------------------------


def test_containers_credentials() -> None:
    res = CR.containers_credentials(
        {
            "s3://b/": CR.s3_credentials(anonymous=True),
            "gs://x/": CR.gcs_credentials(),
            "az://y/": CR.azure_credentials(),
            "https://h/": None,
        }
    )
    assert res == {
        "s3://b/": CR.Credentials.S3(CR.S3Credentials.Anonymous()),
        "gs://x/": CR.Credentials.Gcs(CR.GcsCredentials.FromEnv()),
        "az://y/": CR.Credentials.Azure(CR.AzureCredentials.FromEnv()),
        "https://h/": None,
    }
    assert CR.containers_credentials(m={"s3://b/": None}) == {"s3://b/": None}
    assert CR.containers_credentials(bucket=CR.s3_anonymous_credentials()) == {
        "bucket": CR.Credentials.S3(CR.S3Credentials.Anonymous())
    }
    wrapped = CR.Credentials.S3(CR.s3_from_env_credentials())
    assert CR.containers_credentials({"s3://b/": wrapped})["s3://b/"] == wrapped
    assert CR.containers_credentials({}) == {}
    with pytest.raises(ValueError, match="Unknown credential type"):
        CR.containers_credentials({"x": "bad"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="Unknown credential type"):
        CR.containers_credentials({"x": CR.S3StaticCredentials("a", "b")})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        CR.containers_credentials([("s3://b/", None)])  # type: ignore[arg-type]


# --- conformance with upstream ---------------------------------------------------------------

UPSTREAM_SIGNATURES = """
import inspect, json, sys
import icechunk, icechunk.credentials as c
out = {}
for name in c.__dict__:
    obj = getattr(c, name)
    if inspect.isfunction(obj) and obj.__module__ == "icechunk.credentials":
        out[name] = [[p.name, p.kind.name, repr(p.default)] for p in inspect.signature(obj).parameters.values()]
for cls in ["S3StaticCredentials", "GcsBearerCredential", "S3Credentials.Refreshable",
            "GcsCredentials.Refreshable"]:
    obj = icechunk
    for part in cls.split("."):
        obj = getattr(obj, part)
    out[cls] = [[p.name, p.kind.name, repr(p.default)] for p in inspect.signature(obj).parameters.values()]
out["__classes__"] = sorted(n for n in vars(icechunk) if "Credential" in n)
json.dump(out, open(sys.argv[1], "w"))
"""


@pytest.mark.interop
def test_signatures_match_upstream(tmp_path: Path) -> None:
    out = tmp_path / "sigs.json"
    run_upstream(UPSTREAM_SIGNATURES, str(out))
    upstream = json.loads(out.read_text())
    classes = upstream.pop("__classes__")
    for name in classes:
        assert hasattr(CR, name), name
    assert "containers_credentials" in upstream and "s3_credentials" in upstream
    for name, params in upstream.items():
        obj: Any = CR
        for part in name.split("."):
            obj = getattr(obj, part)
        ours = [
            [p.name, p.kind.name, repr(p.default)]
            for p in inspect.signature(obj).parameters.values()
        ]
        if name == "containers_credentials":
            # ours also accepts keyword arguments and a missing mapping; upstream's call works
            assert [p[0] for p in ours[:1]] == [p[0] for p in params]
            continue
        if name.endswith("Refreshable"):
            # upstream's stub documents ``current=None``; its runtime signature has no default
            assert [p[0] for p in ours] == [p[0] for p in params]
            continue
        assert ours == params, name
