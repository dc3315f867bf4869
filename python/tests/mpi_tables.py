"""DataFrames under mpirun -np P (ctest: python_tables_np1/2/4): every rank passes its own,
unevenly sized rows of one table. The encoding is agreed (a category only the last rank holds is
in every rank's model), the predictions equal a serial pandas/numpy encoder plus kernel ridge
regression (with the quantile transform too:
scikit-learn's), text class names agree with a one-process fit of the whole table, and a bad table on
one rank only (a column missing at predict) is the same kmpi.Error on every rank (no hang);
a tree (rfm.leaf_size) fitted across the ranks predicts as the one-process tree."""

import numpy as np
from mpi4py import MPI

import kmpi
from mpi_support import check, comm, rank, size, split
from table_data import encode, krr, table

common = dict(solver="direct", ridge=1e-3, bandwidth=3.0, scale="standardize",
              precision="float64")
df, y, names = table(130, seed=7)
# "Lyon" only in the last rows, which the last rank holds: agreed into every rank's categories.
df["city"] = df["city"].cat.add_categories(["Lyon"])
df.loc[125:, "city"] = "Lyon"
test, _, _ = table(30, seed=8, unseen=True)
mine, mine_test = split(130), split(30)

reg = kmpi.KernelRegressor(**common, options={"data.missing_indicators": True})
reg.fit(df.iloc[mine], y[mine])
check(reg.model_.table.categories("city") == ["Lyon", "Oslo", "Paris", "Rome"],
      f"categories not agreed: {reg.model_.table.categories('city')}")
got = np.concatenate(comm.allgather(reg.predict(test.iloc[mine_test][list(test.columns[::-1])])))
ref = krr(encode(df, df, True), y, encode(df, test, True), 3.0, 1e-3)
err = np.abs(got - ref).max() / np.abs(ref).max()
check(err < 1e-8, f"DataFrame predictions differ from the pandas/numpy reference ({err:.2e})")

# data.numeric_transform = quantile over uneven rows per rank: the knots of the whole table
# (every value of a column under 1000 values), as scikit-learn's QuantileTransformer fits them.
quant = kmpi.KernelRegressor(**common, options={"data.missing_indicators": True,
                                                "data.numeric_transform": "quantile"})
quant.fit(df.iloc[mine], y[mine])
got = np.concatenate(comm.allgather(quant.predict(test.iloc[mine_test])))
ref = krr(encode(df, df, True, quantile=True), y, encode(df, test, True, quantile=True), 3.0, 1e-3)
err = np.abs(got - ref).max() / np.abs(ref).max()
check(err < 1e-7, f"quantile predictions differ from the scikit-learn reference ({err:.2e})")

clf = kmpi.KernelClassifier(**common).fit(df.iloc[mine], names[mine])
one = kmpi.KernelClassifier(**common, comm=MPI.COMM_SELF).fit(df, names)
pred = clf.predict(df.iloc[mine])
check(list(pred) == list(one.predict(df.iloc[mine])), "class names differ from one process")
acc = clf.score(df.iloc[mine], names[mine])
check(len(set(comm.allgather(acc))) == 1, "score differs between ranks")

# A column missing on the last rank only: every rank raises the same error.
bad = df.iloc[mine_test].drop(columns=["color"]) if rank == size - 1 else df.iloc[mine_test]
try:
    clf.predict(bad)
    message = None
except kmpi.Error as e:
    message = str(e)
messages = comm.allgather(message)
check(len(set(messages)) == 1 and messages[0] is not None and
      "column 'color' of the model's training table is missing" in messages[0],
      f"the missing column is not one agreed error: {messages}")
# A tree (rfm.leaf_size) from Python across the ranks: the one-process tree's predictions.
rng = np.random.default_rng(6)
Xt = rng.random((240, 3))
yt = (Xt[:, 0] + Xt[:, 1] > 1).astype(np.int64)
tree = dict(solver="direct", bandwidth=1.0, ridge=1e-3,
            options={"rfm.leaf_size": 100, "rfm.split_samples": 100})
spread = kmpi.KernelClassifier(**tree).fit(Xt[:200][split(200)], yt[:200][split(200)])
alone = kmpi.KernelClassifier(**tree, comm=MPI.COMM_SELF).fit(Xt[:200], yt[:200])
q = Xt[200:][split(40)]
check(spread.model_.is_tree and np.array_equal(spread.predict(q), alone.predict(q)),
      "the tree across ranks differs from the one-process tree")
if rank == 0:
    print(f"mpi_tables: {size} ranks, DataFrame vs pandas/numpy KRR max relative difference "
          f"{err:.2e}")
