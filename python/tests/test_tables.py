"""pandas DataFrames in the estimators, in one process (issue 27 §1): the encoding agrees with an
independent pandas/numpy encoder plus kernel ridge regression; a DataFrame and a CSV of the same
table (quoted fields with commas and doubled quotes included) give byte-identical model files
through Python and `kmpi train`, and each side predicts the other's model (class names, columns
in any order); bad tables raise one kmpi.Error naming the column; a tree (rfm.leaf_size) trains,
predicts, saves and reloads through Python."""
import os
import pickle
import subprocess

import numpy as np
import pytest

import kmpi

pd = pytest.importorskip("pandas")
from table_data import encode, krr, table  # noqa: E402

KMPI = os.environ.get("KMPI_BINARY", "kmpi")
COMMON = dict(solver="direct", ridge=1e-3, bandwidth=3.0, scale="standardize",
              precision="float64")
CLI_COMMON = ["--solver.name=direct", "--solver.ridge=1e-3", "--kernel.bandwidth=3",
              "--data.scale=standardize", "--solver.precision=float64"]


def test_encoding_agrees_with_an_independent_encoder():
    df, y, _ = table(120, seed=1)
    test, _, _ = table(40, seed=2, unseen=True)
    est = kmpi.KernelRegressor(**COMMON, options={"data.missing_indicators": True}).fit(df, y)
    assert list(est.feature_names_in_) == list(df.columns)
    # Columns in another order; categories unseen in training ("Berlin") encode as all zeros.
    got = est.predict(test[list(reversed(test.columns))])
    X, Xt = encode(df, df, True), encode(df, test, True)
    # age + indicator, 3 colors, size + indicator, 3 cities, 3 shapes, income
    assert X.shape[1] == 14 == est.model_.dimension
    ref = krr(X, y, Xt, 3.0, 1e-3)
    err = np.abs(got - ref).max() / np.abs(ref).max()
    assert err < 1e-8, err  # float64 on both sides: rounding only
    assert est.model_.table.categories("shape") == ["a, b", "plain", 'say "hi"']


def test_quantile_transform_agrees_with_scikit_learn(tmp_path):
    pytest.importorskip("sklearn")
    df, y, _ = table(130, seed=4)
    test, _, _ = table(50, seed=5)
    opts = {"data.missing_indicators": True, "data.numeric_transform": "quantile"}
    est = kmpi.KernelRegressor(**COMMON, options=opts).fit(df, y)
    got = est.predict(test)
    X, Xt = encode(df, df, True, quantile=True), encode(df, test, True, quantile=True)
    ref = krr(X, y, Xt, 3.0, 1e-3)
    # float64 kernels on both sides; the normal quantile (scipy's vs kmpi's) and the clipped ends
    # (scikit-learn's 1e-7 - eps vs 1e-7) differ by about 1e-10 in a score.
    err = np.abs(got - ref).max() / np.abs(ref).max()
    assert err < 1e-7, err
    # The CLI on the same table gives the same model bytes, and `kmpi info` names the knots.
    est.save(tmp_path / "python.kmpi")
    write_csv(tmp_path / "t.csv", df, y)
    subprocess.run([KMPI, "train", f"--data.train_features={tmp_path}/t.csv",
                    "--data.missing_indicators=true", "--data.numeric_transform=quantile",
                    f"--output.model={tmp_path}/cli.kmpi"] + CLI_COMMON,
                   check=True, capture_output=True)
    assert (tmp_path / "python.kmpi").read_bytes() == (tmp_path / "cli.kmpi").read_bytes()
    info = subprocess.run([KMPI, "info", f"--model={tmp_path}/cli.kmpi"], check=True,
                          capture_output=True, text=True).stdout
    knots = int(df["age"].notna().sum())  # every value of a column of fewer than 1000
    assert f"age: numeric, as normal scores of {knots} quantile knots, missing -> 0" in info, info


def write_csv(path, df, labels=None):
    out = df.copy()
    if labels is not None:
        out["label"] = labels
    out.to_csv(path, index=False, na_rep="")


def test_dataframe_and_csv_give_the_same_model_both_ways(tmp_path):
    df, _, names = table(150, seed=3)
    clf = kmpi.KernelClassifier(**COMMON).fit(df, pd.Series(names, name="label"))
    assert list(clf.classes_) == ["no", "yes"]
    clf.save(tmp_path / "python.kmpi")
    write_csv(tmp_path / "t.csv", df, names)
    subprocess.run([KMPI, "train", f"--data.train_features={tmp_path}/t.csv",
                    f"--output.model={tmp_path}/cli.kmpi"] + CLI_COMMON,
                   check=True, capture_output=True)
    assert (tmp_path / "python.kmpi").read_bytes() == (tmp_path / "cli.kmpi").read_bytes()
    # The CLI predicts with the Python model on a CSV of the table, columns permuted, no label.
    perm = ["income", "city", "shape", "age", "size", "color"]
    write_csv(tmp_path / "perm.csv", df[perm])
    subprocess.run([KMPI, "predict", f"--model={tmp_path}/python.kmpi",
                    f"--data.features={tmp_path}/perm.csv",
                    f"--output.predictions={tmp_path}/p.txt"], check=True, capture_output=True)
    cli_pred = (tmp_path / "p.txt").read_text().split()
    mine = clf.predict(df)
    assert list(cli_pred) == list(mine) and set(mine) == {"no", "yes"}
    # The CLI's model in Python: class names kept, a DataFrame in any column order.
    loaded = kmpi.load(tmp_path / "cli.kmpi")
    assert list(loaded.classes_) == ["no", "yes"]
    assert list(loaded.predict(df[perm])) == list(mine)
    assert loaded.score(df[perm], names) == clf.score(df, names)
    again = pickle.loads(pickle.dumps(clf))
    assert list(again.predict(df[perm])) == list(mine)


@pytest.mark.parametrize("extra,cli", [
    ({"solver": "eigenpro2", "epochs": 3, "validation_fraction": 0.25, "seed": 5},
     ["--solver.name=eigenpro2", "--solver.epochs=3", "--data.validation_fraction=0.25",
      "--solver.seed=5"]),
    ({"solver": "direct", "options": {"data.limit": 70}},
     ["--solver.name=direct", "--data.limit=70"]),
])
def test_regression_with_a_validation_split_or_a_limit_gives_the_cli_model(tmp_path, extra, cli):
    # The encoding is fitted on the rows kmpi train keeps for training, not on every row.
    df, y, _ = table(100, seed=9)
    args = {**COMMON, **extra}
    reg = kmpi.KernelRegressor(**args).fit(df, pd.Series(y, name="y"))
    reg.save(tmp_path / "python.kmpi")
    df.assign(y=y).to_csv(tmp_path / "r.csv", index=False, na_rep="")
    subprocess.run([KMPI, "train", f"--data.train_features={tmp_path}/r.csv",
                    f"--output.model={tmp_path}/cli.kmpi"] +
                   [a for a in CLI_COMMON if not a.startswith("--solver.name")] + cli,
                   check=True, capture_output=True)
    assert (tmp_path / "python.kmpi").read_bytes() == (tmp_path / "cli.kmpi").read_bytes()


def test_numeric_dataframe_without_encoding_matches_arrays(tmp_path):
    df, y, _ = table(80, seed=4)
    plain = df[["income"]].assign(twice=2 * df["income"] + 1)
    a = kmpi.KernelRegressor(**COMMON).fit(plain, y)
    b = kmpi.KernelRegressor(**COMMON).fit(plain.to_numpy(), y)
    assert a.model_.table is None  # nothing to encode: the model of the same numbers
    assert np.array_equal(a.predict(plain[["twice", "income"]]), b.predict(plain.to_numpy()))


def test_bad_tables_raise_one_error_naming_the_column():
    df, y, names = table(60, seed=5)
    clf = kmpi.KernelClassifier(**COMMON).fit(df, names)
    with pytest.raises(kmpi.Error, match="column 'color' of the model's training table is "
                                         "missing"):
        clf.predict(df.drop(columns=["color"]))
    bad = df.copy()
    bad["age"] = bad["age"].astype(object)
    bad.loc[4, "age"] = "old"
    with pytest.raises(kmpi.Error, match=r"row 4 \(0-based\), column 'age': 'old' is not a "
                                         "number, but column 'age' was numeric in training"):
        clf.predict(bad)
    with pytest.raises(kmpi.Error, match="the label is missing"):
        kmpi.KernelClassifier(**COMMON).fit(df, np.where(np.arange(60) == 7, None, names))
    with pytest.raises(kmpi.Error, match="every value is missing"):
        kmpi.KernelRegressor(**COMMON).fit(df.assign(blank=np.nan), y)


def test_tree_from_python(tmp_path):
    rng = np.random.default_rng(6)
    X = rng.random((240, 3))
    labels = (X[:, 0] + X[:, 1] > 1).astype(np.int64)
    opts = {"rfm.leaf_size": 100, "rfm.split_samples": 100}
    clf = kmpi.KernelClassifier(solver="direct", bandwidth=1.0, ridge=1e-3, options=opts)
    clf.fit(X[:200], labels[:200])
    assert clf.model_.is_tree
    assert clf.score(X[200:], labels[200:]) > 0.8
    clf.save(tmp_path / "tree.kmpi")
    np.save(tmp_path / "q.npy", X[200:])
    subprocess.run([KMPI, "predict", f"--model={tmp_path}/tree.kmpi",
                    f"--data.features={tmp_path}/q.npy",
                    f"--output.predictions={tmp_path}/p.txt"], check=True, capture_output=True)
    assert np.array_equal(np.loadtxt(tmp_path / "p.txt", dtype=np.int64), clf.predict(X[200:]))
    assert np.array_equal(kmpi.load(tmp_path / "tree.kmpi").predict(X[200:]),
                          clf.predict(X[200:]))
    assert np.array_equal(pickle.loads(pickle.dumps(clf)).predict(X[200:]), clf.predict(X[200:]))


def test_tree_of_a_dataframe(tmp_path):
    """A tree on a DataFrame with categorical and missing values and text labels: the encoding
    travels in the tree's leaves, so Python and `kmpi predict` on the CSV of the same table
    (columns permuted) write the same class names."""
    df, _, names = table(240, seed=3)
    opts = {"rfm.leaf_size": 100, "rfm.split_samples": 120, "rfm.iterations": 1,
            "data.validation_fraction": 0.25}
    clf = kmpi.KernelClassifier(**COMMON, options=opts).fit(df, names)
    assert clf.model_.is_tree
    assert set(clf.predict(df)) <= {"no", "yes"}
    clf.save(tmp_path / "tree.kmpi")
    df[list(reversed(df.columns))].to_csv(tmp_path / "q.csv", index=False)
    subprocess.run([KMPI, "predict", f"--model={tmp_path}/tree.kmpi",
                    f"--data.features={tmp_path}/q.csv",
                    f"--output.predictions={tmp_path}/p.txt"], check=True, capture_output=True)
    cli = open(tmp_path / "p.txt").read().split()
    assert cli == list(clf.predict(df))


def test_tree_with_validation_rows_gives_the_cli_tree(tmp_path):
    """X_val of a DataFrame tree (class names) goes down the tree as data.validation_features
    does: the same tree file as `kmpi train` on the CSVs of the same tables."""
    df, _, names = table(240, seed=3)
    val, _, val_names = table(60, seed=8)
    opts = {"rfm.leaf_size": 100, "rfm.split_samples": 120, "rfm.iterations": 1}
    clf = kmpi.KernelClassifier(**COMMON, options=opts)
    clf.fit(df, pd.Series(names, name="label"), X_val=val, y_val=val_names)
    clf.save(tmp_path / "python.kmpi")
    write_csv(tmp_path / "t.csv", df, names)
    write_csv(tmp_path / "v.csv", val, val_names)
    subprocess.run([KMPI, "train", f"--data.train_features={tmp_path}/t.csv",
                    f"--data.validation_features={tmp_path}/v.csv", "--rfm.leaf_size=100",
                    "--rfm.split_samples=120", "--rfm.iterations=1",
                    f"--output.model={tmp_path}/cli.kmpi"] + CLI_COMMON,
                   check=True, capture_output=True)
    assert (tmp_path / "python.kmpi").read_bytes() == (tmp_path / "cli.kmpi").read_bytes()
