"""The progress bar of an import, on standard error (tqdm): bytes of the file, with rows, rejects
and the row rate beside it. Off when standard error is not a terminal, unless asked for."""

import sys
import time

from tqdm import tqdm


class ImportProgress:
    def __init__(
        self, *, total_bytes: int, done_bytes: int, rows_done: int, enabled: bool | None
    ) -> None:
        self._bar = tqdm(
            total=total_bytes,
            initial=done_bytes,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            dynamic_ncols=True,
            file=sys.stderr,
            # None: shown on a terminal only, so logs and pipes stay free of carriage returns.
            disable=None if enabled is None else not enabled,
            mininterval=0.5,
        )
        self._started = time.monotonic()
        self._rows_at_start = rows_done
        self.rows_done = rows_done
        self.rows_rejected = 0

    def advance(self, *, to_bytes: int, rows_done: int, rows_rejected: int) -> None:
        self.rows_done, self.rows_rejected = rows_done, rows_rejected
        self._bar.set_postfix(
            rows=f"{rows_done:,}",
            rejected=f"{rows_rejected:,}",
            rows_s=f"{self.rate():,.0f}",
            refresh=False,
        )
        self._bar.update(to_bytes - self._bar.n)

    def rate(self) -> float:
        elapsed = time.monotonic() - self._started
        return (self.rows_done - self._rows_at_start) / elapsed if elapsed > 0 else 0.0

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self._started

    def close(self) -> None:
        self._bar.close()
