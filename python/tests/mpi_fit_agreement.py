"""fit under mpirun -np P (ctest: python_fit_agreement): (1) the last rank's options are
invalid (data.scale = bogus) while the others' are fine: every rank must raise the same
kmpi.Error before any collective, instead of the valid ranks waiting in one forever (mpirun's
--timeout turns a hang into a failure); (2) a fit with run.checkpoint_dir installs kmpi's
SIGTERM/SIGUSR1 handlers for its duration only: afterwards the interpreter's own are back, and a
SIGUSR1 reaches the Python handler the script set."""
import os
import shutil
import signal
import sys
import tempfile

import numpy as np
from mpi4py import MPI

import kmpi

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()


def check(ok, what):
    if not all(comm.allgather(bool(ok))):
        if rank == 0:
            print(f"FAIL ({size} ranks): {what}", file=sys.stderr)
        sys.exit(1)


rng = np.random.default_rng(1)
X = rng.random((60, 2))
y = X[:, 0] - X[:, 1]
mine = slice(rank * 60 // size, (rank + 1) * 60 // size)

# (1) Options that fail on one rank only.
est = kmpi.KernelRegressor(solver="direct", bandwidth=1.0,
                           scale="bogus" if rank == size - 1 else "unit")
try:
    est.fit(X[mine], y[mine])
    outcome = "fitted"
except kmpi.Error as e:
    outcome = "kmpi.Error: " + str(e)
outcomes = comm.allgather(outcome)
check(all(o == outcomes[0] for o in outcomes), f"ranks disagree: {outcomes}")
check(outcomes[0].startswith("kmpi.Error") and "data.scale" in outcomes[0],
      f"expected a kmpi.Error naming data.scale, got {outcomes[0]}")

# (2) Stop-signal handlers are the interpreter's again after fit.
hits = []
signal.signal(signal.SIGUSR1, lambda signum, frame: hits.append(signum))
before = (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGUSR1))
directory = comm.bcast(tempfile.mkdtemp(prefix="kmpi-py-signals-") if rank == 0 else None)
est = kmpi.KernelRegressor(solver="eigenpro2", bandwidth=1.0, epochs=1,
                           options={"run.checkpoint_dir": directory,
                                    "solver.nystrom_samples": 20, "solver.batch_size": 10})
est.fit(X[mine], y[mine])
after = (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGUSR1))
check(before == after, f"signal.getsignal changed: {before} -> {after}")
os.kill(os.getpid(), signal.SIGUSR1)
for _ in range(100):  # Python runs the handler between bytecodes of the main thread
    if hits:
        break
check(hits == [signal.SIGUSR1], f"SIGUSR1 after fit did not reach the Python handler: {hits}")
comm.barrier()
if rank == 0:
    shutil.rmtree(directory, ignore_errors=True)
    print(f"ok ({size} ranks)")
