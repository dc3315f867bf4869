"""The Python package in one process: the estimator protocol, identical models to the CLI, the
model file both ways, and bad input. Run by the README test command (ctest: python)."""
import os
import subprocess

import numpy as np
import pytest

import kmpi

KMPI = os.environ.get("KMPI_BINARY", "kmpi")


def data(n=300, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2
    return X, y


def test_regressor_fits_a_smooth_function():
    X, y = data(500)
    est = kmpi.KernelRegressor(solver="direct", bandwidth=0.5, ridge=1e-9, precision="float64")
    assert est.fit(X[:400], y[:400]) is est
    pred = est.predict(X[400:])
    assert pred.shape == (100,)
    # Exact KRR of a smooth function on 400 points: the held-out error is tiny (measured R^2
    # 0.99997); the bound leaves two orders of magnitude.
    assert est.score(X[400:], y[400:]) > 0.99
    two = kmpi.KernelRegressor(solver="direct", bandwidth=0.5, ridge=1e-9)
    assert two.fit(X[:400], np.c_[y[:400], 2 * y[:400]]).predict(X[400:]).shape == (100, 2)


def test_classifier_keeps_the_labels_given_to_fit():
    X, y = data(400)
    labels = np.where(y > 0.8, "high", "low")
    est = kmpi.KernelClassifier(solver="eigenpro2", bandwidth=0.5, epochs=5).fit(X[:300], labels[:300])
    assert list(est.classes_) == ["high", "low"]
    pred = est.predict(X[300:])
    assert pred.shape == (100,) and set(pred) <= {"high", "low"}
    assert est.score(X[300:], labels[300:]) > 0.85  # measured 0.95
    assert est.decision_function(X[300:]).shape == (100, 2)


def test_params_round_trip_and_clone():
    est = kmpi.KernelClassifier(solver="falkon", centers=50, bandwidth=2.0,
                                options={"solver.tolerance": 1e-9})
    params = est.get_params()
    assert params["solver"] == "falkon" and params["centers"] == 50
    assert params["options"] == {"solver.tolerance": 1e-9}
    clone = type(est)(**params)  # what sklearn.base.clone does
    assert clone.get_params() == params
    assert est.set_params(bandwidth=3.0) is est and est.bandwidth == 3.0
    with pytest.raises(ValueError, match="no parameter 'width'"):
        est.set_params(width=1)
    sklearn = pytest.importorskip("sklearn.base")
    assert sklearn.clone(est).get_params() == est.get_params()


def write_npy_pair(tmp_path, X, labels):
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", labels.astype(np.int64))


@pytest.mark.parametrize("solver,extra", [
    ("eigenpro2", {"epochs": 2}),
    ("falkon", {"centers": 60, "iterations": 8}),
    ("eigenpro4", {"centers": 60, "epochs": 2}),
    ("direct", {"ridge": 1e-6}),
])
def test_python_and_cli_give_identical_models(tmp_path, solver, extra):
    X, y = data(240, 5, seed=3)
    labels = (3 * y).astype(np.int64) % 3
    write_npy_pair(tmp_path, X, labels)
    est = kmpi.KernelClassifier(solver=solver, bandwidth=1.5, scale="standardize", seed=4, **extra)
    est.fit(X, labels)
    est.save(tmp_path / "python.kmpi")
    keys = {"epochs": "solver.epochs", "centers": "solver.centers", "iterations": "solver.iterations",
            "ridge": "solver.ridge"}
    cli = [KMPI, "train", f"--data.train_features={tmp_path}/x.npy",
           f"--data.train_labels={tmp_path}/y.npy", f"--solver.name={solver}",
           "--kernel.bandwidth=1.5", "--data.scale=standardize", "--solver.seed=4",
           f"--output.model={tmp_path}/cli.kmpi"] + [f"--{keys[k]}={v}" for k, v in extra.items()]
    subprocess.run(cli, check=True, capture_output=True)
    assert (tmp_path / "python.kmpi").read_bytes() == (tmp_path / "cli.kmpi").read_bytes()
    # The CLI predicts from the Python model what Python predicts (class indices 0..c-1 = labels).
    subprocess.run([KMPI, "predict", f"--model={tmp_path}/python.kmpi",
                    f"--data.features={tmp_path}/x.npy", f"--output.predictions={tmp_path}/p.txt"],
                   check=True, capture_output=True)
    cli_pred = np.loadtxt(tmp_path / "p.txt", dtype=np.int64)
    assert np.array_equal(cli_pred, est.predict(X))
    loaded = kmpi.load(tmp_path / "cli.kmpi")
    assert isinstance(loaded, kmpi.KernelClassifier)
    assert np.array_equal(loaded.predict(X), est.predict(X))


def test_non_contiguous_and_integer_arrays_are_converted():
    X, y = data(200)
    wide = np.asfortranarray(np.c_[X, X])[:, ::2]  # strided, Fortran order
    a = kmpi.KernelRegressor(solver="direct", bandwidth=0.7).fit(wide, y).predict(wide)
    b = kmpi.KernelRegressor(solver="direct", bandwidth=0.7).fit(np.ascontiguousarray(wide), y)
    assert np.array_equal(a, b.predict(wide))
    ints = (10 * X).astype(np.int32)
    assert kmpi.KernelRegressor(solver="direct").fit(ints, y).predict(ints).shape == (200,)


def test_bad_input_raises_one_clear_error():
    X, y = data(50)
    reg = kmpi.KernelRegressor(solver="direct")
    with pytest.raises(kmpi.Error, match="50 feature rows but 49 target rows"):
        reg.fit(X, y[:49])
    bad = X.copy()
    bad[7, 2] = np.nan
    with pytest.raises(kmpi.Error, match=r"row 7, column 2 \(0-based\) of the features is NaN"):
        reg.fit(bad, y)
    with pytest.raises(kmpi.Error, match="expected a 1-D or 2-D array, got 3 dimensions"):
        reg.fit(X.reshape(50, 2, 2), y)
    with pytest.raises(kmpi.Error, match="option solver.name"):
        kmpi.KernelRegressor(solver="nope").fit(X, y)
    with pytest.raises(ValueError):
        reg.fit(np.array([["a", "b"]] * 50), y)
    reg.fit(X, y)
    with pytest.raises(kmpi.Error, match="has 3 features per row, the model 4"):
        reg.predict(X[:, :3])
    with pytest.raises(kmpi.Error, match="before predict"):
        kmpi.KernelRegressor().predict(X)


def test_the_readme_example_runs(tmp_path, monkeypatch):
    """The README's Python section, run as written (in a scratch directory)."""
    readme = open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md")).read()
    start = readme.index("PYTHONPATH=build/python /usr/bin/python3 - <<'PY'\n")
    body = readme[readme.index("\n", start) + 1:readme.index("    PY\n", start)]
    code = "\n".join(line[4:] for line in body.splitlines())
    monkeypatch.chdir(tmp_path)
    printed = []
    exec(compile(code, "README.md", "exec"), {"print": lambda *a: printed.append(a)})
    assert (tmp_path / "model.kmpi").exists()
    assert printed and printed[-1][0] == "test accuracy" and printed[-1][1] > 0.97  # 0.9956


def test_rfm_learns_a_metric_from_python():
    # y = x_0^2 + 0.5 x_1 on 20 features: RFM (rfm_iterations, rfm_metric) learns a
    # metric that weighs the two features the target depends on, and predicts far better than the
    # plain kernel (measured: test mse 0.00046 vs 0.040; bound a factor 4).
    rng = np.random.default_rng(5)
    X = rng.uniform(-1, 1, (1500, 20))
    y = X[:, 0] ** 2 + 0.5 * X[:, 1] + 0.02 * rng.standard_normal(1500)
    common = dict(solver="direct", kernel="laplacian", bandwidth=10.0, ridge=1e-6, scale="standardize",
                  precision="float64", validation_fraction=0.2)
    plain = kmpi.KernelRegressor(**common).fit(X[:1000], y[:1000])
    rfm = kmpi.KernelRegressor(**common, rfm_iterations=3, rfm_metric="diagonal")
    rfm.fit(X[:1000], y[:1000])
    assert rfm.model_.metric == "diagonal"
    mse = lambda est: float(np.mean((est.predict(X[1000:]) - y[1000:]) ** 2))
    print("rfm test mse", mse(rfm), "plain", mse(plain))
    assert mse(rfm) < 0.25 * mse(plain)


def test_validation_rows_select_the_rfm_iteration():
    # fit(X, y, X_val=, y_val=): the given rows validate (no draw from X). Same problem as above;
    # RFM on 800 rows with 200 given validation rows learns the metric as well (bound a factor 4).
    rng = np.random.default_rng(5)
    X = rng.uniform(-1, 1, (1500, 20))
    y = X[:, 0] ** 2 + 0.5 * X[:, 1] + 0.02 * rng.standard_normal(1500)
    common = dict(solver="direct", kernel="laplacian", bandwidth=10.0, ridge=1e-6,
                  scale="standardize", precision="float64")
    plain = kmpi.KernelRegressor(**common).fit(X[:800], y[:800])
    rfm = kmpi.KernelRegressor(**common, rfm_iterations=3, rfm_metric="diagonal")
    rfm.fit(X[:800], y[:800], X_val=X[800:1000], y_val=y[800:1000])
    assert rfm.model_.metric == "diagonal"
    mse = lambda est: float(np.mean((est.predict(X[1000:]) - y[1000:]) ** 2))
    assert mse(rfm) < 0.25 * mse(plain)
    # Classes: text labels for the validation rows too; one the training rows lack counts as a
    # miss at every iteration alike (the same selection, the same model).
    labels = np.where(X[:, 0] ** 2 + 0.5 * X[:, 1] > 0.4, "high", "low")
    clf = kmpi.KernelClassifier(**common, rfm_iterations=2)
    clf.fit(X[:800], labels[:800], X_val=X[800:1000], y_val=labels[800:1000])
    assert clf.score(X[1000:], labels[1000:]) > 0.9
    unseen = kmpi.KernelClassifier(**common, rfm_iterations=2)
    unseen.fit(X[:800], labels[:800], X_val=X[800:1002],
               y_val=np.concatenate([labels[800:1000], ["medium", "medium"]]))
    assert np.array_equal(unseen.decision_function(X[1000:]), clf.decision_function(X[1000:]))
    with pytest.raises(kmpi.Error, match="X_val and y_val together"):
        rfm.fit(X[:800], y[:800], X_val=X[800:1000])
    with pytest.raises(kmpi.Error, match="pass the rows as fit"):
        kmpi.KernelRegressor(options={"data.validation_features": "v.npy"}).fit(X[:80], y[:80])
