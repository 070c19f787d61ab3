"""Cloud storage factories and the store-spec mapping without a server: specs, credentials
mapping, repr and pickling (live conformance runs are in test_s3.py, test_gcs.py,
test_azure.py and test_http.py)."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

import pytest

from icechunk._config import ObjectStoreConfig, S3Options
from icechunk._exceptions import ConfigError
from icechunk.credentials import (
    GcsBearerCredential,
    S3StaticCredentials,
    gcs_refreshable_credentials,
    s3_refreshable_credentials,
)
from icechunk.storage import (
    Storage,
    gcs_storage,
    r2_storage,
    s3_object_store_storage,
    s3_storage,
    tigris_storage,
)
from icechunk.storage._gcs import GcsBackend
from icechunk.storage._object_store import ObjectStoreBackend, decode_version, encode_version
from icechunk.storage._specs import (
    TIGRIS_ENDPOINT,
    AzureSpec,
    GcsSpec,
    HttpSpec,
    RefreshingProvider,
    S3Spec,
    _s3_credential,
    spec_for,
)


def _spec(storage: Storage) -> object:
    return storage._spec


def test_s3_factories_and_repr() -> None:
    storage = s3_storage(bucket="b", prefix="p/q", region="eu-west-1", anonymous=True)
    spec = _spec(storage)
    assert isinstance(spec, S3Spec) and spec.region == "eu-west-1" and spec.anonymous is False
    assert "s3://b/p/q" in repr(storage)
    assert isinstance(storage._backend(), ObjectStoreBackend)
    other = s3_object_store_storage(bucket="b", prefix=None, anonymous=True)
    assert "s3://b/" in repr(other)


def test_s3_storage_new_s3_with_options() -> None:
    options = S3Options(region="us-west-2", endpoint_url="http://127.0.0.1:1", allow_http=True)
    storage = Storage.new_s3(options, "bucket", "prefix")
    spec = _spec(storage)
    assert isinstance(spec, S3Spec)
    assert spec.endpoint_url == "http://127.0.0.1:1" and spec.allow_http


def test_r2_and_tigris_endpoints() -> None:
    r2 = r2_storage(bucket="b", prefix="p", account_id="acc", anonymous=True)
    spec = _spec(r2)
    assert isinstance(spec, S3Spec)
    assert spec.endpoint_url == "https://acc.r2.cloudflarestorage.com" and spec.region == "auto"
    with pytest.raises(ValueError):
        r2_storage(bucket="b", prefix="p", anonymous=True)
    tigris = tigris_storage(bucket="b", prefix="p", anonymous=True, use_weak_consistency=True)
    spec = _spec(tigris)
    assert isinstance(spec, S3Spec) and spec.read_only and spec.endpoint_url
    assert not tigris._backend().can_write


def test_cloud_storages_pickle() -> None:
    for storage in (
        s3_storage(bucket="b", prefix="p", access_key_id="k", secret_access_key="s"),
        gcs_storage(bucket="g", prefix="p", bearer_token="token"),
        r2_storage(bucket="b", prefix="p", account_id="a", anonymous=True),
    ):
        copy = pickle.loads(pickle.dumps(storage))
        assert repr(copy) == repr(storage)
        assert _spec(copy) == _spec(storage)


def test_gcs_variants_build() -> None:
    for storage in (
        gcs_storage(bucket="g", prefix="p", anonymous=True),
        gcs_storage(bucket="g", prefix="p", bearer_token="token"),
        gcs_storage(
            bucket="g",
            prefix="p",
            get_credentials=lambda: GcsBearerCredential("tok"),
        ),
    ):
        assert "gs://g/p" in repr(storage)
        assert isinstance(storage._backend(), GcsBackend)  # the client is built on first use
    assert isinstance(gcs_storage(bucket="g", prefix="p", from_env=True)._backend(), GcsBackend)


def test_refreshing_provider_uses_initial_then_fetches() -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    credentials = s3_refreshable_credentials(
        lambda: S3StaticCredentials("fetched", "secret"), scatter_initial_credentials=True
    )
    provider = RefreshingProvider(credentials, _s3_credential)
    assert provider()["access_key_id"] == "fetched"
    expired = s3_refreshable_credentials(lambda: S3StaticCredentials("fresh", "secret"))
    object.__setattr__(expired, "current", S3StaticCredentials("old", "s", None, later))
    provider = RefreshingProvider(expired, _s3_credential)
    assert provider()["access_key_id"] == "old"  # initial value still valid
    assert provider()["access_key_id"] == "fresh"  # then the function
    gcs = gcs_refreshable_credentials(lambda: GcsBearerCredential("tok"))
    assert RefreshingProvider(gcs, lambda c: {"token": c.bearer})()["token"] == "tok"


def test_version_tokens_round_trip() -> None:
    assert decode_version(encode_version('"etag"', None)) == {"e_tag": '"etag"'}
    assert decode_version(encode_version('"etag"', "v7")) == {"e_tag": '"etag"', "version": "v7"}


def test_s3_family_specs_share_one_mapping() -> None:
    options = S3Options(region="eu-west-1", endpoint_url="http://127.0.0.1:1", allow_http=True)
    for store in (ObjectStoreConfig.S3(options), ObjectStoreConfig.S3Compatible(options)):
        spec = spec_for(store, "b", "p")
        assert isinstance(spec, S3Spec)
        assert (spec.region, spec.endpoint_url, spec.allow_http) == (
            "eu-west-1",
            "http://127.0.0.1:1",
            True,
        )
    tigris = spec_for(ObjectStoreConfig.Tigris(S3Options()), "b", None, read_only=True)
    assert isinstance(tigris, S3Spec)
    assert (tigris.endpoint_url, tigris.region, tigris.read_only) == (TIGRIS_ENDPOINT, "auto", True)
    assert not tigris.make_backend().can_write


def test_spec_for_gcs_azure_http() -> None:
    gcs = spec_for(ObjectStoreConfig.Gcs({"base_url": "http://127.0.0.1:1"}), "g", "p")
    assert isinstance(gcs, GcsSpec) and gcs.config == {"base_url": "http://127.0.0.1:1"}
    azure = spec_for(ObjectStoreConfig.Azure({"account": "acc", "use_emulator": "true"}), "c", "p")
    assert isinstance(azure, AzureSpec)
    assert (azure.account, azure.container, azure.config) == ("acc", "c", {"use_emulator": "true"})
    http = spec_for(ObjectStoreConfig.Http(), "http://127.0.0.1:1", "some/root")
    assert isinstance(http, HttpSpec) and http.url == "http://127.0.0.1:1/some/root"


def test_spec_for_refuses_other_kinds_of_credentials() -> None:
    from icechunk.credentials import gcs_anonymous_credentials, s3_anonymous_credentials

    with pytest.raises(ConfigError, match="S3"):
        spec_for(ObjectStoreConfig.S3(S3Options()), "b", None, gcs_anonymous_credentials())
    with pytest.raises(ConfigError, match="GCS"):
        spec_for(ObjectStoreConfig.Gcs(), "b", None, s3_anonymous_credentials())
    with pytest.raises(ConfigError, match="account"):
        spec_for(ObjectStoreConfig.Azure(), "c", None)
    with pytest.raises(ConfigError, match="cloud object store"):
        spec_for(ObjectStoreConfig.InMemory(), "b", None)
