"""Large arrays sent to PostgreSQL as one text literal, cast in SQL (`$2::text::text[]`).

asyncpg encodes a list parameter element by element (with abstract-class checks on each one), and
the server then receives every element on its own: for the ten thousand members or transaction ids
of an ingest batch that costs milliseconds per array on each side. Joining the values in C into
one array literal and letting PostgreSQL parse it costs a tenth of that.
"""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


def text_array(values: Sequence[str]) -> str:
    """The literal of a text[]: every element quoted, so commas, braces, blanks and "NULL" are
    plain text; quotes and backslashes (rare in ids) are escaped."""
    if not values:
        return "{}"
    joined = '","'.join(values)
    # The separators hold 2 quotes each: any other quote, or a backslash, must be escaped.
    if "\\" in joined or joined.count('"') != 2 * (len(values) - 1):
        joined = '","'.join(value.replace("\\", "\\\\").replace('"', '\\"') for value in values)
    return '{"' + joined + '"}'


def int_array(values: Sequence[int] | npt.NDArray[np.integer]) -> str:  # type: ignore[type-arg]
    """The literal of a bigint[] (or int[], smallint[])."""
    listed = values.tolist() if isinstance(values, np.ndarray) else values
    return "{" + ",".join(map(str, listed)) + "}"
