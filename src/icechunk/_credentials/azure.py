"""Azure Blob Storage credentials."""

from __future__ import annotations

from typing import ClassVar, TypeAlias

from .._records import Variant, nest, variant
from ._base import Key, Token, Wraps


class AzureStaticCredentials:
    """Static Azure credentials: one of :class:`AzureStaticCredentials.AccessKey`,
    :class:`AzureStaticCredentials.SasToken` or :class:`AzureStaticCredentials.BearerToken`."""

    __slots__ = ()
    AccessKey: ClassVar[type[_AzureAccessKey]]
    SasToken: ClassVar[type[_AzureSasToken]]
    BearerToken: ClassVar[type[_AzureBearerToken]]


class _AzureAccessKey(Key, AzureStaticCredentials):
    """An account access key.

    Parameters
    ----------
    key
        The access key.
    """


class _AzureSasToken(Token, AzureStaticCredentials):
    """A shared access signature token.

    Parameters
    ----------
    token
        The SAS token.
    """


class _AzureBearerToken(Token, AzureStaticCredentials):
    """A bearer token.

    Parameters
    ----------
    token
        The bearer token.
    """


nest(AzureStaticCredentials, "AccessKey", _AzureAccessKey)
nest(AzureStaticCredentials, "SasToken", _AzureSasToken)
nest(AzureStaticCredentials, "BearerToken", _AzureBearerToken)

AnyAzureStaticCredential: TypeAlias = _AzureAccessKey | _AzureSasToken | _AzureBearerToken


class AzureCredentials:
    """Azure Blob Storage credentials: :class:`AzureCredentials.FromEnv` or
    :class:`AzureCredentials.Static`."""

    __slots__ = ()
    FromEnv: ClassVar[type[_AzureFromEnv]]
    Static: ClassVar[type[_AzureStatic]]


@variant
class _AzureFromEnv(Variant, AzureCredentials):
    """Use credentials from the environment."""


class _AzureStatic(Wraps, AzureCredentials):
    """Use static credentials.

    Parameters
    ----------
    credentials
        One of the :class:`AzureStaticCredentials` members.
    """

    _holds = AzureStaticCredentials
    _0: AnyAzureStaticCredential


nest(AzureCredentials, "FromEnv", _AzureFromEnv)
nest(AzureCredentials, "Static", _AzureStatic)

AnyAzureCredential: TypeAlias = _AzureFromEnv | _AzureStatic


def azure_static_credentials(
    *,
    access_key: str | None = None,
    sas_token: str | None = None,
    bearer_token: str | None = None,
) -> AnyAzureStaticCredential:
    """Create static credentials for Azure Blob Storage; exactly one argument must be given.

    Parameters
    ----------
    access_key
        An account access key.
    sas_token
        A shared access signature token.
    bearer_token
        A bearer token.

    Returns
    -------
    AnyAzureStaticCredential
    """
    if [access_key, sas_token, bearer_token].count(None) != 2:
        raise ValueError("Conflicting arguments to azure_static_credentials function")
    if access_key is not None:
        return _AzureAccessKey(access_key)
    if sas_token is not None:
        return _AzureSasToken(sas_token)
    assert bearer_token is not None
    return _AzureBearerToken(bearer_token)


def azure_from_env_credentials() -> _AzureFromEnv:
    """Fetch Azure Blob Storage credentials from the operating system environment."""
    return _AzureFromEnv()


def azure_credentials(
    *,
    access_key: str | None = None,
    sas_token: str | None = None,
    bearer_token: str | None = None,
    from_env: bool | None = None,
) -> AnyAzureCredential:
    """Create credentials for Azure Blob Storage.

    With no arguments, credentials are fetched from the environment.

    Parameters
    ----------
    access_key, sas_token, bearer_token
        Static credentials (see :func:`azure_static_credentials`).
    from_env
        Fetch credentials from the operating system environment.

    Returns
    -------
    AnyAzureCredential
    """
    any_static = access_key is not None or sas_token is not None or bearer_token is not None
    if (from_env is None or from_env) and not any_static:
        return azure_from_env_credentials()
    if any_static and not from_env:
        return _AzureStatic(
            azure_static_credentials(
                access_key=access_key, sas_token=sas_token, bearer_token=bearer_token
            )
        )
    raise ValueError("Conflicting arguments to azure_credentials function")
