"""The Dask client of a run: an existing scheduler, or a LocalCluster we start
and close."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from stance.core.errors import StanceError

CONNECT_TIMEOUT_S = 10

# A worker's state machine keeps its last `low-level-log-length` events and
# transitions for debugging (Dask's default 1,000). On a long run of 5,000-turn
# blocks that grew each worker's memory from 162 MB at 1M turns to 214 MB at
# 10M; with 100 it peaks at 155 MB at 1M turns and 159 MB at 10M (BENCHMARKS.md,
# Dask).
# The LocalCluster's workers get it; a `dask worker` takes it from the
# environment (README, "Running on a cluster").
WORKER_CONFIG = {"distributed.admin.low-level-log-length": 100}


class ClusterError(StanceError):
    """The Dask scheduler cannot be reached or the cluster cannot start."""


@contextlib.contextmanager
def connect(scheduler: str | None = None, workers: int | None = None) -> Iterator:
    """A `distributed.Client` on `scheduler`, or on a LocalCluster of `workers`
    single-threaded worker processes on 127.0.0.1 (closed on the way out)."""
    from distributed import Client, LocalCluster

    if scheduler and workers:
        raise StanceError("--scheduler and --workers: give one of them")
    if scheduler:
        # the client logs each failed attempt; the one-line error says it all
        quiet = logging.getLogger("distributed")
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as exc:
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ClusterError(
                f"{scheduler}: cannot reach the Dask scheduler ({why})"
            ) from None
        finally:
            quiet.setLevel(level)
        try:
            yield client
        finally:
            client.close()
        return
    if not workers or workers < 1:
        raise StanceError("--workers needs a number of worker processes >= 1")
    import dask

    with dask.config.set(WORKER_CONFIG):  # each nanny passes it to its worker
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",  # any free port: no clash with another cluster
        )
    try:
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def worker_count(client) -> int:
    return max(len(client.scheduler_info(n_workers=-1).get("workers", {})), 1)
