"""The Python package under mpirun -np P (ctest: python_np1/2/4): every rank passes its own,
unevenly sized rows; the model equals a serial numpy reference of exact kernel ridge regression
computed here, predictions and scores are global, and an error on one rank's rows is the same
kmpi.Error on every rank (no hang)."""

import numpy as np
from mpi4py import MPI

import kmpi
from mpi_support import check, comm, rank, size, split

rng = np.random.default_rng(0)
X = rng.random((600, 3))
y = np.sin(3 * X[:, 0]) + X[:, 1] * X[:, 2]
train, test = slice(0, 450), slice(450, 600)
mine, mine_test = split(450), split(150)

# Serial reference, every rank: (K + ridge n I) alpha = y, gaussian kernel, bandwidth 0.6.
ridge, sigma = 1e-6, 0.6
def gauss(A, B):
    d2 = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2 * A @ B.T
    return np.exp(-np.maximum(d2, 0) / (2 * sigma * sigma))
alpha = np.linalg.solve(gauss(X[train], X[train]) + ridge * 450 * np.eye(450), y[train])
ref = gauss(X[test], X[train]) @ alpha

est = kmpi.KernelRegressor(solver="direct", ridge=ridge, bandwidth=sigma, precision="float64")
est.fit(X[train][mine], y[train][mine])
pred = est.predict(X[test][mine_test])
# float64 kernel and Cholesky on both sides; the difference is rounding (measured ~1e-12).
check(np.max(np.abs(pred - ref[mine_test])) < 1e-8, "direct differs from the numpy reference")
score = est.score(X[test][mine_test], y[test][mine_test])
check(len(set(comm.allgather(score))) == 1, "score differs between ranks")
ref_r2 = 1 - np.sum((ref - y[test]) ** 2) / np.sum((y[test] - y[test].mean()) ** 2)
check(abs(score - ref_r2) < 1e-8, f"score {score} is not the global R^2 {ref_r2}")

# A rank without rows still takes part in predict and score (no hang, one global value).
last = rank == size - 1 and size > 1
Xs, ys = (X[:0], y[:0]) if last else (X[test][mine_test], y[test][mine_test])
check(len(est.predict(Xs)) == len(ys), "predict on a rank without rows")
check(len(set(comm.allgather(est.score(Xs, ys)))) == 1, "score with a rank without rows")

# Classes seen by some ranks only: every rank gets the union and predicts labels.
labels = np.where(y > 0.9, 7, 3)
clf = kmpi.KernelClassifier(solver="eigenpro2", epochs=3, bandwidth=sigma)
part = labels[train][mine]
clf.fit(X[train][mine], part if rank or size == 1 else np.full_like(part, 3))  # rank 0: no 7s
check(list(clf.classes_) == [3, 7], "classes are not the union over ranks")
check(clf.score(X[test][mine_test], labels[test][mine_test]) > 0.7, "classifier does not learn")

# Validation rows split over the ranks (fit(..., X_val=, y_val=)): RFM selects on all of them; the
# model equals the one trained in a single process on the whole arrays (COMM_SELF, every rank).
val, mine_val = slice(300, 450), split(150)
opts = dict(solver="direct", ridge=ridge, bandwidth=sigma, precision="float64", rfm_iterations=2,
            rfm_metric="diagonal")
rfm = kmpi.KernelRegressor(**opts).fit(X[:300][split(300)], y[:300][split(300)],
                                      X_val=X[val][mine_val], y_val=y[val][mine_val])
one = kmpi.KernelRegressor(**opts, comm=MPI.COMM_SELF).fit(X[:300], y[:300], X_val=X[val],
                                                            y_val=y[val])
mine_rfm = rfm.predict(X[test][mine_test])
check(np.max(np.abs(mine_rfm - one.predict(X[test])[mine_test]), initial=0) < 1e-8,
      "RFM with validation rows over the ranks differs from one process")

# One rank's NaN: the same error everywhere.
bad = X[train][mine].copy()
if rank == size - 1:
    bad[0, 1] = np.nan
try:
    kmpi.KernelRegressor(solver="direct").fit(bad, y[train][mine])
    message = ""
except kmpi.Error as e:
    message = str(e)
check("NaN" in message, f"no agreed NaN error: {message!r}")
check(len(set(comm.allgather(message))) == 1, "ranks raised different messages")
if rank == 0:
    print(f"python under mpirun: {size} ranks ok")
