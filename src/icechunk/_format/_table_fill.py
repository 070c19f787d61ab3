"""One chunk reference table filled from consecutive blocks of rows.

Decoding a big manifest block by block keeps the temporary arrays small: they are freed and
reused for the next block, and only the final columns take new memory (on a fresh process,
faulting in new pages is most of a big decode's time).
"""

from __future__ import annotations

import numpy as np

from .._exceptions import FormatError
from .manifest import JOINED_COLUMNS, ChunkRefTable, recode_strings


class TableFill:
    """Columns for ``n`` rows, filled in order by :meth:`add`; :meth:`table` joins them."""

    def __init__(self, first: ChunkRefTable, n: int) -> None:
        self._columns = {
            name: np.empty((n, *getattr(first, name).shape[1:]), getattr(first, name).dtype)
            for name in JOINED_COLUMNS
        }
        self._inline_start = np.empty(n, dtype=np.int64)
        self._location_index = np.empty(n, dtype=np.int32)
        self._etag_index = np.empty(n, dtype=np.int32)
        self._locations: dict[str, int] = {}
        self._etags: dict[str, int] = {}
        self._inline: list[bytes] = []
        self._inline_size = 0
        self._rows = 0
        self.add(first)

    def add(self, block: ChunkRefTable) -> None:
        """Append the rows of ``block``."""
        rows = slice(self._rows, self._rows + len(block))
        if block.coords.shape[1:] != self._columns["coords"].shape[1:]:
            raise FormatError("chunk refs of one array have indices of different lengths")
        for name, column in self._columns.items():
            column[rows] = getattr(block, name)
        self._location_index[rows] = recode_strings(
            block.location_index, block.locations, self._locations
        )
        self._etag_index[rows] = recode_strings(block.etag_index, block.etags, self._etags)
        np.add(block.inline_start, self._inline_size, out=self._inline_start[rows])
        self._inline.append(block.inline_data)
        self._inline_size += len(block.inline_data)
        self._rows = rows.stop

    def table(self) -> ChunkRefTable:
        """The joined table (every row must have been added)."""
        return ChunkRefTable(
            **self._columns,
            location_index=self._location_index,
            locations=tuple(self._locations),
            etag_index=self._etag_index,
            etags=tuple(self._etags),
            inline_start=self._inline_start,
            inline_data=b"".join(self._inline),
        )
