"""Conditional puts over an unreliable network: write ids, read-back, and retries.

One home for the logic both HTTP backends (obstore and the GCS JSON API) share. A conditional
put (create-if-absent, or compare-and-swap on a version) can fail in two ways that say nothing
about what the server did: the connection resets or times out, or the put is answered with a
failed precondition because an earlier try of the same put (sent again by the HTTP client, or
by us) already landed. So every conditional put carries a random *write id* in the object's
metadata, and after any failure the object is read back:

* the object bears our write id: the put landed; its version is the result;
* a failed precondition, and the object is not ours: another writer won
  (``PreconditionFailedError``);
* a transport failure, and the object is not ours: the put did not land (or its fate cannot be
  read); it is sent again, with the same write id, after a backoff, up to ``max_tries`` tries
  in all. Sending it again is safe: the server applies it only if the precondition still
  holds, and a precondition it fails because our own earlier try landed is recognised by the
  write id on the next read-back.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .._exceptions import PreconditionFailedError, StorageError

#: User-metadata key of the write id (letters only: Azure metadata names must be identifiers,
#: S3 lower-cases them).
WRITE_ID_ATTRIBUTE = "icechunkwriteid"


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of transient failures: ``max_tries`` tries in all, exponential backoff."""

    max_tries: int = 10
    initial_backoff_s: float = 0.1
    max_backoff_s: float = 15.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before try ``attempt + 1`` (``attempt`` counts from 1), jittered."""
        ceiling = min(self.initial_backoff_s * 2 ** (attempt - 1), self.max_backoff_s)
        return float(random.uniform(ceiling / 2, ceiling))


class AmbiguousWriteError(StorageError):
    """A put failed in a way that does not tell whether the server applied it (a reset
    connection, a timeout, a 5xx answer); :func:`put_with_write_id` reads back and retries."""


def precondition_failed(key: str, where: str, if_match: str | None) -> PreconditionFailedError:
    """The error of a conditional put of ``key`` in ``where`` whose condition did not hold."""
    expected = "to be absent" if if_match is None else f"to have version {if_match!r}"
    return PreconditionFailedError(
        f"conditional write of {key!r} in {where} failed: expected it {expected}"
    )


def new_write_id() -> str:
    """A fresh random write id."""
    return uuid.uuid4().hex


async def put_with_write_id(
    put_once: Callable[[str], Awaitable[str]],
    read_back: Callable[[str], Awaitable[str | None]],
    policy: RetryPolicy,
) -> str:
    """Run a conditional put until it is known to have landed or to have lost.

    Parameters
    ----------
    put_once
        Sends the put once, stamped with the write id it is given; returns the new version,
        or raises ``PreconditionFailedError`` (the condition failed), ``AmbiguousWriteError``
        (unknown outcome: retried) or another ``StorageError`` (definitive: re-raised).
    read_back
        Returns the object's version if it bears the given write id, else ``None`` (also when
        it cannot be read).
    policy
        How many tries in all, and the backoff between them.

    Returns
    -------
    str
        The version the put created.

    Raises
    ------
    PreconditionFailedError
        Another writer's object is there (or the expected version is gone).
    StorageError
        Every try failed without landing, or a failure that retrying cannot fix.
    """
    write_id = new_write_id()
    attempt = 0
    while True:
        attempt += 1
        try:
            return await put_once(write_id)
        except PreconditionFailedError:
            mine = await read_back(write_id)
            if mine is not None:
                return mine  # an earlier try of this put landed
            raise
        except AmbiguousWriteError as error:
            mine = await read_back(write_id)
            if mine is not None:
                return mine
            if attempt >= policy.max_tries:
                raise AmbiguousWriteError(
                    f"{error} (tried {attempt} times; reading the object back showed that "
                    "the write did not land: check the network and retry)"
                ) from error
            await asyncio.sleep(policy.delay(attempt))
