"""kmpi from Python: kernel models trained across MPI ranks, with scikit-learn's estimator API.

In a plain ``python3`` the estimators train on the whole array in one process. Under
``mpirun -np P python3 script.py`` every rank passes its own rows (``fit(X_local, y_local)``) and
the same distributed solvers as the ``kmpi`` command run over ``comm`` (an mpi4py communicator,
default ``MPI.COMM_WORLD``); ``predict`` and ``score`` take each rank's rows too. Errors are agreed
over the ranks: every rank raises ``kmpi.Error`` (a ``ValueError``) with the same message, the
wrapper's own input checks included. A fitted estimator pickles (``joblib.dump``, scikit-learn's
``n_jobs`` workers) when it was trained in one process.

Keyword arguments are the last part of kmpi's option keys (``kmpi --help``); ``None`` keeps
kmpi's default (``rfm_iterations`` and ``rfm_metric`` are ``rfm.iterations`` and ``rfm.metric``:
feature learning, with ``validation_fraction`` or validation rows, ``fit(X, y, X_val=, y_val=)``).
Any other option goes by its full key: ``options={"solver.batch_size": 1000}``.

pandas DataFrames: X may be a DataFrame (on every rank alike) with numeric, categorical and text
columns and missing values; it is encoded by the same C++ code as ``kmpi train`` encodes a CSV of
the same table (``data.categorical``, ``data.missing_values``, ``data.missing``,
``data.missing_indicators`` as ``options``), the encoding is stored in the model file, and predict
finds the columns by name, in any order. A classifier's text labels are its class names, stored
in the model as the CLI stores a text label column (``predict`` returns the names). See _tables.py.
"""
import inspect
import os
import shutil
import tempfile

import numpy as np
from mpi4py import MPI

from . import _kmpi
from . import _tables

Error = _kmpi.Error


class InputTypeError(Error, TypeError):
    """Error for input of a type that cannot be numbers at all (a dict in an object array): a
    ``kmpi.Error`` and, as NumPy and scikit-learn raise there, a ``TypeError``."""

__all__ = ["KernelClassifier", "KernelRegressor", "Error", "InputTypeError", "load"]

# keyword -> option key
_KEYS = {
    "solver": "solver.name",
    "kernel": "kernel.name",
    "bandwidth": "kernel.bandwidth",
    "nu": "kernel.nu",
    "epochs": "solver.epochs",
    "centers": "solver.centers",
    "ridge": "solver.ridge",
    "iterations": "solver.iterations",
    "seed": "solver.seed",
    "precision": "solver.precision",
    "scale": "data.scale",
    "validation_fraction": "data.validation_fraction",
    "rfm_iterations": "rfm.iterations",
    "rfm_metric": "rfm.metric",
}


def _agreed(comm, work):
    """collective: ``work()`` on every rank, then one verdict: if it raised on any rank, every rank
    raises ``Error`` with the first failing rank's message (named when there are several ranks).
    The wrapper's own checks and conversions go through it, so a rank whose rows are bad never
    leaves the others waiting in the first collective."""
    try:
        result, failure = work(), None
    except Exception as e:  # noqa: BLE001 - any failure must be agreed, whatever its type
        result, failure = None, (isinstance(e, TypeError), str(e) or type(e).__name__)
    for rank, failed in enumerate(comm.allgather(failure)):
        if failed is not None:
            kind = InputTypeError if failed[0] else Error
            raise kind(failed[1] if comm.Get_size() == 1 else f"{failed[1]} (rank {rank})")
    return result


def _dense_rows(X, what="X"):
    """local: X as a C-contiguous float64 matrix, or the ValueError scikit-learn users expect."""
    if hasattr(X, "tocsr") or type(X).__module__.startswith("scipy.sparse"):
        raise Error(f"{what}: sparse input is not supported; pass a dense array (X.toarray())")
    X = np.asarray(X)
    if np.iscomplexobj(X):
        raise Error(f"{what}: Complex data not supported")
    if X.ndim == 1:
        if X.size:
            raise Error(f"{what}: expected a 2-D array, got a 1-D array. Reshape your data, "
                        "X.reshape(-1, 1) for one feature or X.reshape(1, -1) for one row")
        X = X.reshape(0, 0)
    if X.ndim != 2:
        raise Error(f"{what}: expected a 1-D or 2-D array, got {X.ndim} dimensions")
    if X.ndim == 2 and X.shape[0] > 0 and X.shape[1] == 0:
        raise Error(f"{what}: 0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
    return _float64(X, what)


def _float64(a, what):
    """local: a as a C-contiguous float64 array; values that are not numbers are an Error (a
    TypeError too where NumPy says so: a dict in an object array)."""
    try:
        return np.ascontiguousarray(a, dtype=np.float64)
    except TypeError as e:
        raise InputTypeError(f"{what}: not numbers ({e})") from None
    except ValueError as e:
        raise Error(f"{what}: not numbers ({e})") from None


def _target_values(y, what="y"):
    """local: regression targets as float64 (1-D or one column per target)."""
    y = np.asarray(y)
    if np.iscomplexobj(y):
        raise Error(f"{what}: Complex data not supported")
    return _float64(y, what)


def _finite_rows(X, what="X"):
    """local: _dense_rows, and every value finite (as the train path checks its rows)."""
    X = _dense_rows(X, what)
    bad = np.argwhere(~np.isfinite(X))
    if len(bad):
        i, j = bad[0]
        value = "NaN" if np.isnan(X[i, j]) else ("inf" if X[i, j] > 0 else "-inf")
        raise Error(f"row {i}, column {j} (0-based) of {what} is {value}")
    return X


def _option_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _raise(error):
    raise error


class _KernelEstimator:
    _classification = False

    def __init__(self, solver=None, kernel=None, bandwidth=None, nu=None, epochs=None,
                 centers=None, ridge=None, iterations=None, seed=None, precision=None,
                 scale=None, validation_fraction=None, rfm_iterations=None, rfm_metric=None,
                 options=None, comm=None):
        self.solver = solver
        self.kernel = kernel
        self.bandwidth = bandwidth
        self.nu = nu
        self.epochs = epochs
        self.centers = centers
        self.ridge = ridge
        self.iterations = iterations
        self.seed = seed
        self.precision = precision
        self.scale = scale
        self.validation_fraction = validation_fraction
        self.rfm_iterations = rfm_iterations
        self.rfm_metric = rfm_metric
        self.options = options
        self.comm = comm

    # ---- scikit-learn's estimator protocol ----
    @classmethod
    def _param_names(cls):
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_params(self, deep=True):
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        for name, value in params.items():
            if name not in self._param_names():
                raise ValueError(f"{type(self).__name__}: no parameter {name!r}")
            setattr(self, name, value)
        return self

    def __repr__(self):
        given = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items() if v is not None)
        return f"{type(self).__name__}({given})"

    # ---- helpers ----
    def _comm(self):
        return MPI.COMM_WORLD if self.comm is None else self.comm

    def _args(self):
        args = []
        for name, key in _KEYS.items():
            value = getattr(self, name)
            if value is not None:
                args.append(f"--{key}={_option_text(value)}")
        for key, value in (self.options or {}).items():
            args.append(f"--{key}={_option_text(value)}")
        args.append("--data.task=" + ("classification" if self._classification else "regression"))
        return args

    def _rows(self, X, what="X"):
        """collective: X as float64 rows, the checks agreed over the ranks."""
        return _agreed(self._comm(), lambda: _finite_rows(X, what))

    def _frame_in(self, X, y=None):
        """collective: for a DataFrame X (agreed over the ranks), X encoded by the C++ table
        encoder, fitted on every rank's training rows (those ``kmpi train`` keeps: data.limit,
        the validation split); labels y (1-D) go with it as the label column. Returns (X, y, table): table None when X is no DataFrame or the encoding changes
        nothing (numeric columns, nothing missing, numeric labels), as ``kmpi train`` does."""
        self.__dict__.pop("feature_names_in_", None)
        if not self._is_frame(X):
            return X, y, None
        names, cols, also = _tables.columns(X)
        label = -1
        if y is not None:
            lname, lcol = _agreed(self._comm(), lambda: _tables.label_column(y, names))
            names, cols, label = names + [lname], cols + [lcol], len(names)
        features = _tables.feature_names(X)
        X, labels, table, _ = _kmpi.encode_table(self._comm(), "fit: X", self._args(), names,
                                                 cols, label, also, None)
        if features is not None:
            self.feature_names_in_ = features
        return X, (y if labels is None else labels.ravel()), table

    def _frame_rows(self, X, what, table):
        """collective: rows to predict from: a DataFrame (agreed over the ranks) encoded with the
        model's table (columns by name), or, for a model without one, its columns in the order
        of fit (by name when fit saw names)."""
        if not self._is_frame(X):
            return X
        if table is not None:
            names, cols, also = _tables.columns(X)
            return _kmpi.encode_table(self._comm(), what, self._args(), names, cols, -1, also,
                                      table)[0]
        known = getattr(self, "feature_names_in_", None)

        def reorder():
            if known is None:
                return X.to_numpy()
            absent = [n for n in known if n not in X.columns]
            if absent:
                raise Error(f"{what}: column {absent[0]!r} of the training table is missing")
            return X[list(known)].to_numpy()
        return _agreed(self._comm(), reorder)

    def _is_frame(self, X):
        """collective: whether X is a DataFrame, the same answer on every rank."""
        frames = self._comm().allgather(_tables.is_frame(X))
        if len(set(frames)) > 1:
            raise Error(f"{type(self).__name__}: some ranks pass a DataFrame and others not "
                        f"(rank {frames.index(not frames[0])} differs from rank 0)")
        return frames[0]

    def _fit(self, X, targets, X_test=None, targets_test=None, X_val=None, targets_val=None,
             table=None):
        empty = np.zeros((0, 0))
        X_test = self._frame_rows(X_test, "fit: X_test", table)
        X_val = self._frame_rows(X_val, "fit: X_val", table)

        def convert():
            if (X_val is None) != (targets_val is None):
                raise Error("fit: give X_val and y_val together (validation rows need labels)")
            return (_dense_rows(X), np.ascontiguousarray(targets, np.float64),
                    empty if X_test is None else _dense_rows(X_test, "X_test"),
                    empty if targets_test is None else np.ascontiguousarray(targets_test, np.float64),
                    empty if X_val is None else _dense_rows(X_val, "X_val"),
                    empty if targets_val is None else np.ascontiguousarray(targets_val, np.float64))

        X, targets, X_test, targets_test, X_val, targets_val = _agreed(self._comm(), convert)
        comm = self._comm()
        # A tree (rfm.leaf_size > 0) is written to a file by kmpi, then held in memory: a
        # temporary folder named by rank 0 (the ranks share its file system, as for the CLI).
        tree = _agreed(comm, lambda: int((self.options or {}).get("rfm.leaf_size") or 0) > 0)
        folder = comm.bcast(tempfile.mkdtemp(prefix="kmpi-tree-") if tree and
                            comm.Get_rank() == 0 else None)
        args = self._args() + ([f"--output.model={os.path.join(folder, 'tree.kmpi')}"]
                               if tree else [])
        try:
            self.model_, self.fit_metrics_ = _kmpi.fit(
                comm, args, X, targets, self._classification, X_test, targets_test,
                X_val, targets_val, table)
        finally:
            if tree:
                comm.Barrier()
                if comm.Get_rank() == 0:
                    shutil.rmtree(folder, ignore_errors=True)
        self.n_features_in_ = len(self.feature_names_in_) if hasattr(
            self, "feature_names_in_") else self.model_.dimension
        return self

    def _outputs(self, X):
        fitted = hasattr(self, "model_")
        _agreed(self._comm(), lambda: fitted or _raise(
            Error(f"{type(self).__name__}: call fit (or kmpi.load) before predict")))
        X = self._frame_rows(X, "predict: X", self.model_.table)
        return self.model_.predict(self._rows(X))

    # ---- pickling: the model travels as the bytes of its model file ----
    def __getstate__(self):
        state = self.__dict__.copy()
        if self.comm is not None and self.comm != MPI.COMM_WORLD:
            raise Error(f"{type(self).__name__}: cannot pickle an estimator bound to a "
                        "communicator other than COMM_WORLD")
        state["comm"] = None
        if "model_" in state:
            if self._comm().Get_size() > 1:
                raise Error(f"{type(self).__name__}: a model trained across ranks is pickled "
                            "by saving it (save(path), kmpi.load(path))")
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, "model.kmpi")
                self.model_.save(path)
                with open(path, "rb") as f:
                    state["model_"] = f.read()
        return state

    def __setstate__(self, state):
        model = state.get("model_")
        self.__dict__.update(state)
        if isinstance(model, bytes):
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, "model.kmpi")
                with open(path, "wb") as f:
                    f.write(model)
                self.model_ = _kmpi.load(MPI.COMM_SELF, path)

    def save(self, path):
        """collective: the model file, the same format as the ``kmpi`` command's."""
        self.model_.save(str(path))


class KernelClassifier(_KernelEstimator):
    """Kernel classification (one-hot square loss, argmax); predict gives labels as given to fit."""

    _classification = True

    def fit(self, X, y, X_test=None, y_test=None, X_val=None, y_val=None):
        """X_test / y_test: evaluated after training (fit_metrics_). X_val / y_val: validation
        rows (instead of data.validation_fraction's draw from X): they select the RFM iteration
        and stop the iterative solvers early; their labels must be among y's."""
        X, y, table = self._frame_in(X, y)
        if table is not None and table.classes:
            # Text labels: the classes are the table's names, y holds their indices already.
            labels, index = np.asarray(table.classes, dtype=object), np.asarray(y, np.float64)
        else:
            y = np.asarray(y).ravel()
            # The classes of every rank, sorted: the same indices on every rank.
            seen = [np.asarray(c) for c in self._comm().allgather(np.unique(y)) if len(c)]
            labels = np.unique(np.concatenate(seen)) if seen else np.unique(y)
            index = np.searchsorted(labels, y).astype(np.float64)
        self.classes_ = labels
        test_index = None
        if y_test is not None:
            y_test = np.asarray(y_test).ravel()
            test_index = np.searchsorted(labels, y_test)
            known = (test_index < len(labels)) & (labels[np.minimum(test_index, len(labels) - 1)] == y_test)
            test_index = np.where(known, test_index, -1).astype(np.float64)
        val_index = None
        if y_val is not None:
            y_val = np.asarray(y_val).ravel()

            # A validation label the training rows lack counts as a miss (index -1), as in
            # `kmpi train` with data.validation_features and in the reference xRFM.
            found = np.searchsorted(labels, y_val)
            last = len(labels) - 1
            known = (found <= last) & (labels[np.minimum(found, last)] == y_val)
            val_index = np.where(known, found, -1).astype(np.float64)
        return self._fit(X, index, X_test, test_index, X_val, val_index, table)

    def decision_function(self, X):
        return self._outputs(X)

    def predict(self, X):
        return self.classes_[np.argmax(self._outputs(X), axis=1)]

    def score(self, X, y):
        """collective: accuracy over every rank's rows."""
        y = np.asarray(y).ravel()
        pred = self.predict(X)
        right, total = self._comm().allreduce(
            np.array([np.sum(pred == y), len(y)], dtype=np.float64), op=MPI.SUM)
        return float(right / total)


class KernelRegressor(_KernelEstimator):
    """Kernel regression (square loss) of one or several targets."""

    def fit(self, X, y, X_test=None, y_test=None, X_val=None, y_val=None):
        """X_test / y_test: evaluated after training (fit_metrics_). X_val / y_val: validation
        rows (instead of data.validation_fraction's draw from X): they select the RFM iteration
        and stop the iterative solvers early."""
        # One target goes with a DataFrame as its label column (named in the model, as the CLI
        # names a table's target column); several stay apart.
        X, encoded, table = self._frame_in(X, y if np.ndim(y) == 1 else None)
        y = y if encoded is None else encoded
        y = _agreed(self._comm(), lambda: _target_values(y))
        self._one_target = y.ndim == 1
        if y_val is not None:
            y_val = _agreed(self._comm(), lambda: _target_values(y_val, "y_val"))
        return self._fit(X, y, X_test, y_test, X_val, y_val, table)

    def predict(self, X):
        out = self._outputs(X)
        return out[:, 0] if getattr(self, "_one_target", out.shape[1] == 1) else out

    def score(self, X, y):
        """collective: R^2 over every rank's rows (averaged over targets, as scikit-learn)."""
        pred = self._outputs(X)  # collective first: a rank without rows must still take part
        k = self.model_.outputs
        y = np.asarray(y, dtype=np.float64).reshape(-1, k)
        pred = pred.reshape(-1, k)
        sums = self._comm().allreduce(
            np.vstack([y.sum(axis=0), (y * y).sum(axis=0), ((pred - y) ** 2).sum(axis=0),
                       np.full(k, len(y), dtype=np.float64)]), op=MPI.SUM)
        s, ss, err, n = sums
        return float(np.mean(1.0 - err / (ss - s * s / n)))


def load(path, comm=None):
    """collective: an estimator holding the model in ``path`` (written by ``save`` or the CLI).

    A classifier loaded from a file predicts what ``kmpi predict`` writes: the class names of a
    table's text labels (stored in the file), else class indices 0..c-1. A model of a table
    predicts DataFrames (columns by name, in any order).
    """
    comm = MPI.COMM_WORLD if comm is None else comm
    model = _kmpi.load(comm, str(path))
    est = (KernelClassifier if model.classification else KernelRegressor)(comm=comm)
    est.model_ = model
    est.n_features_in_ = model.dimension
    if model.classification:
        table = model.table
        est.classes_ = (np.asarray(table.classes, dtype=object) if table is not None and
                        table.classes else np.arange(model.outputs))
    if model.table is not None:
        est.feature_names_in_ = np.asarray(model.table.columns, dtype=object)
        est.n_features_in_ = len(est.feature_names_in_)
    return est
