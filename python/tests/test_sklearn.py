"""scikit-learn's conformance suite and its tools on kmpi's estimators, in one process: every
check of check_estimator passes, a fitted estimator pickles (joblib.dump / load) to identical
predictions, GridSearchCV and cross_val_score run with two worker processes, and invalid input
is a ValueError (kmpi.Error) or, for values that are not numbers at all, a TypeError."""
import pickle

import numpy as np
import pytest

import kmpi

sklearn = pytest.importorskip("sklearn")
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402


@pytest.mark.parametrize("make", [lambda: kmpi.KernelRegressor(solver="direct", bandwidth=1.0),
                                  lambda: kmpi.KernelClassifier(solver="direct", bandwidth=1.0)])
def test_check_estimator_passes(make):
    # Raises on the first failing check, naming it.
    check_estimator(make())


def data(n=200, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.random((n, 3))
    return X, np.sin(3 * X[:, 0]) + X[:, 1]


def test_pickle_and_joblib_round_trip(tmp_path):
    X, y = data()
    reg = kmpi.KernelRegressor(solver="direct", bandwidth=0.5, ridge=1e-6).fit(X, y)
    again = pickle.loads(pickle.dumps(reg))
    assert np.array_equal(again.predict(X), reg.predict(X))  # the same model file, same bits
    assert again.get_params() == reg.get_params()
    joblib = pytest.importorskip("joblib")
    labels = np.where(y > 1, "high", "low")
    clf = kmpi.KernelClassifier(solver="direct", bandwidth=0.5).fit(X, labels)
    joblib.dump(clf, tmp_path / "clf.joblib")
    loaded = joblib.load(tmp_path / "clf.joblib")
    assert list(loaded.classes_) == ["high", "low"]
    assert np.array_equal(loaded.predict(X), clf.predict(X))


def test_grid_search_and_cross_val_with_workers():
    from sklearn.model_selection import GridSearchCV, cross_val_score
    X, y = data(240)
    grid = GridSearchCV(kmpi.KernelRegressor(solver="direct", ridge=1e-6),
                        {"bandwidth": [0.05, 0.5, 5.0]}, cv=3, n_jobs=2).fit(X, y)
    # A smooth target on [0, 1]^3: bandwidth 0.05 is far narrower than the rows' spacing (it
    # predicts ~0 between them), 5.0 is too wide for sin(3 x); measured mean R^2 -5.1 / 0.99989 /
    # 0.976, so 0.5 must win.
    assert grid.best_params_["bandwidth"] == 0.5 and grid.best_score_ > 0.99
    scores = cross_val_score(kmpi.KernelRegressor(solver="direct", bandwidth=0.5, ridge=1e-6),
                             X, y, cv=3, n_jobs=2)
    assert scores.shape == (3,) and scores.min() > 0.99


def test_invalid_input_is_a_value_error():
    X, y = data(50)
    reg = kmpi.KernelRegressor(solver="direct")
    with pytest.raises(ValueError, match="Reshape your data"):
        reg.fit(X[:, 0], y)
    with pytest.raises(ValueError, match="Complex data not supported"):
        reg.fit(X + 1j, y)
    with pytest.raises(ValueError, match="sparse input is not supported"):
        from scipy.sparse import csr_matrix
        reg.fit(csr_matrix(X), y)
    obj = X.astype(object)
    obj[0, 0] = {"a": 1}
    with pytest.raises(TypeError, match="argument must be a string.* number"):
        reg.fit(obj, y)
    with pytest.raises(ValueError, match="Complex data not supported"):
        reg.fit(X, y + 1j)
    reg.fit(X, y)
    bad = X.copy()
    bad[4, 1] = np.inf
    with pytest.raises(kmpi.Error, match=r"row 4, column 1 \(0-based\) of X is inf"):
        reg.predict(bad)
