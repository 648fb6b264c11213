"""Validating files on every core: forked workers, results in input order.

The schema store, its compiled validators and the loaded file contents are inherited
by ``fork`` (nothing to pickle on the way in); each worker takes a contiguous share
of the files, balanced by size, and sends back its results pickled through a pipe.
The parent validates the first share itself, then reads the others in order, so the
output is the serial output. A worker that fails (killed, out of memory) costs
nothing but time: its share is validated again in the parent.

Forking pays only for large inputs: below :data:`MIN_BYTES` (measured with
``benchmarks/validate_bench.py --break-even``) the work stays in one process.
"""

from __future__ import annotations

import itertools
import os
import pickle
import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: Input size from which a second process pays for its fork and the pickled results
#: (see docs/VALIDATION.md for the measurement).
MIN_BYTES = 1_500_000
#: Least input per worker: more workers than this allows would mostly wait.
BYTES_PER_WORKER = 750_000


def cpus() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def workers_for(total_bytes: int, *, limit: int | None = None) -> int:
    """How many processes to validate ``total_bytes`` with (1: serial)."""
    if total_bytes < MIN_BYTES or not hasattr(os, "fork"):
        return 1
    wanted = min(cpus(), max(1, total_bytes // BYTES_PER_WORKER))
    return max(1, min(wanted, limit or wanted))


def split(sizes: Sequence[int], parts: int) -> list[range]:
    """Contiguous index ranges of ``sizes`` with about equal sums."""
    total = sum(sizes)
    bounds = [0]
    acc = 0
    for i, size in enumerate(sizes):
        acc += size
        if len(bounds) < parts and acc >= total * len(bounds) / parts and i + 1 < len(sizes):
            bounds.append(i + 1)
    bounds.append(len(sizes))
    return [range(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def map_ordered(func: Callable[[T], R], items: Sequence[T], sizes: Sequence[int],
                workers: int) -> list[R]:
    """``[func(item) for item in items]``, computed by ``workers`` processes."""
    shares = split(sizes, workers) if workers > 1 else [range(len(items))]
    if len(shares) < 2:
        return [func(item) for item in items]
    sys.stdout.flush()
    sys.stderr.flush()
    children: list[tuple[int, int, range]] = []
    for share in shares[1:]:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, which never returns
            code = 0
            try:
                os.close(read_fd)
                data = pickle.dumps([func(items[i]) for i in share],
                                    protocol=pickle.HIGHEST_PROTOCOL)
                view = memoryview(data)
                while view:
                    view = view[os.write(write_fd, view):]
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(write_fd)
        children.append((pid, read_fd, share))
    out = [func(items[i]) for i in shares[0]]
    for pid, read_fd, share in children:
        try:
            data = _read_all(read_fd)
        finally:
            os.close(read_fd)
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) == 0 and data:
            out.extend(pickle.loads(data))
        else:  # the worker died: its share is done here
            out.extend(func(items[i]) for i in share)
    return out
