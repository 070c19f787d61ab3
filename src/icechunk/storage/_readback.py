"""Conditional puts over an unreliable network: write ids, read-back, and retries.

One home for the logic every remote backend (obstore's stores and GCS) shares. A conditional
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

import abc
import asyncio
import uuid

from .._config import StorageRetriesSettings
from .._exceptions import PreconditionFailedError, StorageError
from ._backend import Data, PutMode, StorageBackend

#: User-metadata key of the write id (letters only: Azure metadata names must be identifiers,
#: S3 lower-cases them).
WRITE_ID_ATTRIBUTE = "icechunkwriteid"


class AmbiguousWriteError(StorageError):
    """A put failed in a way that does not tell whether the server applied it (a reset
    connection, a timeout, a 5xx answer); :class:`StampedBackend` reads back and retries."""


def precondition_failed(key: str, where: str, if_match: str | None) -> PreconditionFailedError:
    """The error of a conditional put of ``key`` in ``where`` whose condition did not hold."""
    expected = "to be absent" if if_match is None else f"to have version {if_match!r}"
    return PreconditionFailedError(
        f"conditional write of {key!r} in {where} failed: expected it {expected}"
    )


class StampedBackend(StorageBackend):
    """A remote backend whose conditional puts are stamped with a write id and read back.

    Subclasses send one put (:meth:`_put_once`) and read an object's write id back
    (:meth:`_written_by`); this class decides what a failure means and when to try again.
    ``_retries`` is the (effective) retry setting of the backend.
    """

    _retries: StorageRetriesSettings

    async def _put(self, key: str, data: Data, mode: PutMode, if_match: str | None) -> str:
        if mode is PutMode.OVERWRITE and if_match is None:
            return await self._put_once(key, data, mode, None, None)
        write_id = uuid.uuid4().hex
        tries = self._retries.max_tries or 1
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._put_once(key, data, mode, if_match, write_id)
            except PreconditionFailedError:
                mine = await self._written_by(key, write_id)
                if mine is not None:
                    return mine  # an earlier try of this put landed
                raise
            except AmbiguousWriteError as error:
                mine = await self._written_by(key, write_id)
                if mine is not None:
                    return mine
                if attempt >= tries:
                    raise AmbiguousWriteError(
                        f"{error} (tried {attempt} times; reading the object back showed that "
                        "the write did not land: check the network and retry)"
                    ) from error
                await asyncio.sleep(self._retries._backoff_seconds(attempt))

    @abc.abstractmethod
    async def _put_once(
        self, key: str, data: Data, mode: PutMode, if_match: str | None, write_id: str | None
    ) -> str:
        """Send the put once (stamped with ``write_id`` when it is conditional).

        Returns the new version, or raises ``PreconditionFailedError`` (the condition
        failed), ``AmbiguousWriteError`` (unknown outcome: read back, maybe retried) or
        another ``StorageError`` (definitive).
        """

    @abc.abstractmethod
    async def _written_by(self, key: str, write_id: str) -> str | None:
        """The object's version if it bears ``write_id``, else ``None`` (also when it cannot
        be read)."""
