"""Shapes shared by the credential unions: one wrapped value, one string, a refreshing function."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any, ClassVar

import cloudpickle

from .._exceptions import CredentialsFetchError
from .._records import Variant, instance_of, req_str, setting, variant


@variant
class Wraps(Variant):
    """A union member holding one value of the type ``_holds`` (given as ``credentials``)."""

    __match_args__ = ("_0",)
    _holds: ClassVar[type]
    _0: Any = setting(default=None)

    def __init__(self, credentials: Any) -> None:
        self._init(_0=instance_of(self._holds, optional=False)("credentials", credentials))


@variant
class OneString(Variant):
    """A union member holding one string; ``_secret`` ones print as ``***``."""

    __match_args__ = ("_0",)
    _secret: ClassVar[bool] = False
    _0: str = setting(default=None)

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}({'***' if self._secret else repr(self._0)})"


class Token(OneString):
    """A secret string, given as ``token``."""

    _secret = True

    def __init__(self, token: str) -> None:
        self._init(_0=req_str("token", token))


class Key(OneString):
    """A secret string, given as ``key``."""

    _secret = True

    def __init__(self, key: str) -> None:
        self._init(_0=req_str("key", key))


class Path(OneString):
    """A file path, given as ``path``."""

    def __init__(self, path: str) -> None:
        self._init(_0=req_str("path", path))


@variant
class Refreshable(Variant):
    """Credentials fetched, and fetched again when expired, by a Python function: its pickle
    (``pickled_function``) plus optional initial credentials (``current``) of ``_result_type``.
    """

    __match_args__ = ("pickled_function", "current")
    _result_type: ClassVar[type]
    pickled_function: bytes = setting(default=None)
    current: Any = setting(default=None)

    def __init__(self, pickled_function: bytes | Callable[[], Any], current: Any = None) -> None:
        if callable(pickled_function) and not isinstance(pickled_function, bytes | bytearray):
            fn = pickled_function
            pickled_function = pickle_function(fn)
        elif isinstance(pickled_function, bytes | bytearray):
            fn = None
            pickled_function = bytes(pickled_function)
        else:
            raise TypeError(
                f"{type(self).__qualname__} needs the pickled function (bytes) or a callable, "
                f"got {type(pickled_function).__name__}"
            )
        current = instance_of(self._result_type)(f"{type(self).__qualname__}.current", current)
        self._init(pickled_function=pickled_function, current=current, _function=fn)

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}(<function>, current={self.current!r})"

    @property
    def get_credentials(self) -> Callable[[], Any]:
        """The callable that fetches fresh credentials (unpickled on first use)."""
        fn = self.__dict__.get("_function")
        if fn is None:
            fn = pickle.loads(self.pickled_function)
            self._init(_function=fn)
        return fn  # type: ignore[no-any-return]

    def __reduce__(self) -> tuple[Any, ...]:
        fn = self.__dict__.get("_function")
        pickled = self.pickled_function if fn is None else pickle_function(fn)
        return (type(self), (pickled, self.current))

    def _fetch(self) -> Any:
        """Call the function and check it returned the right credential type."""
        owner, wanted = type(self).__qualname__, self._result_type.__name__
        try:
            value = self.get_credentials()
        except Exception as e:
            raise CredentialsFetchError(
                f"{e}: the get_credentials function of {owner} raised {type(e).__name__}; fix "
                f"it so that it returns {wanted}"
            ) from e
        if not isinstance(value, self._result_type):
            raise CredentialsFetchError(
                f"'{type(value).__name__}' object cannot be cast as '{wanted}': the "
                f"get_credentials function of {owner} must return {wanted}"
            )
        return value


def as_function(fn: Any) -> bytes | Callable[[], Any]:
    """What the helpers store: the callable itself, or (as upstream accepts anything) the
    pickle of a non-callable, which then fails when the credentials are first needed."""
    return fn if callable(fn) else pickle_function(fn)


def pickle_function(fn: Callable[[], Any]) -> bytes:
    """``fn`` pickled with cloudpickle (lambdas and closures too)."""
    try:
        return cloudpickle.dumps(fn)
    except Exception as e:  # pragma: no cover - depends on what the callable captures
        raise TypeError(f"the get_credentials function must be picklable: {e}") from e
