"""Helpers of the scripts run under mpirun (mpi_ranks.py, mpi_tables.py) on COMM_WORLD."""
import sys

import numpy as np
from mpi4py import MPI

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()


def split(n):
    """Uneven contiguous cuts: rank r gets a share proportional to r + 1 (rank 0 the least)."""
    weights = np.arange(1, size + 1, dtype=float)
    cuts = np.concatenate([[0], np.round(np.cumsum(weights) / weights.sum() * n)]).astype(int)
    return slice(cuts[rank], cuts[rank + 1])


def check(ok, what):
    """collective: every rank exits 1 unless ok on every rank (rank 0 says what failed)."""
    if not all(comm.allgather(bool(ok))):
        if rank == 0:
            print(f"FAIL ({size} ranks): {what}", file=sys.stderr)
        sys.exit(1)
