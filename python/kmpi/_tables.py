"""pandas DataFrames in the estimators: a table's columns are handed to kmpi's C++ table encoder,
the one ``kmpi train`` runs on a CSV with a header (column kinds, categories agreed over the
ranks, imputation, missing-value indicators, class names), so a DataFrame and a CSV of the same
table give the same encoding and the same model file.

How a pandas column goes over: a numeric dtype as numbers (NaN / pd.NA: missing); any other dtype
(object, string, bool, category) as its fields, each read as the CSV reader reads a field (one of
``data.missing_values``, a number, or text; None / NaN / pd.NA: missing), a ``category`` column
being categorical whatever its values. So a column of strings is what the CSV reader makes of the
same strings in a file; a bool column is the fields "True" / "False" that ``to_csv`` writes.
"""
import numpy as np


def is_frame(X):
    """local: X is a pandas DataFrame (pandas itself is imported only when one is passed)."""
    return type(X).__module__.split(".")[0] == "pandas" and hasattr(X, "columns") \
        and getattr(X, "ndim", 0) == 2


def _fields(values):
    import pandas as pd
    out = []
    for v in values:
        if v is None or (not isinstance(v, str) and pd.api.types.is_scalar(v) and pd.isna(v)):
            out.append(None)
        else:
            out.append(v if isinstance(v, str) else str(v))
    return out


def _column(s):
    """local: one pandas Series as the binding takes it; and whether it is a category column."""
    import pandas as pd
    if isinstance(s.dtype, pd.CategoricalDtype):
        return ("t", _fields(s.astype(object))), True
    if s.dtype.kind in "iuf":
        return ("n", s.to_numpy(dtype=np.float64, na_value=np.nan), s.dtype.kind in "iu"), False
    return ("t", _fields(s.to_numpy(dtype=object))), False


def columns(df):
    """local: (names, columns, category column names) of a DataFrame, for _kmpi.encode_table."""
    names, cols, also = [], [], []
    for k in range(df.shape[1]):
        name = str(df.columns[k])
        col, category = _column(df.iloc[:, k])
        names.append(name)
        cols.append(col)
        if category:
            also.append(name)
    return names, cols, also


def label_column(y, names):
    """local: the labels y (a Series, a list, a 1-D array) as one more column: its name (the
    Series' name when it is a string no feature has, else "label") and the column."""
    import pandas as pd
    s = y if isinstance(y, pd.Series) else pd.Series(np.asarray(y, dtype=object).ravel()
                                                    if np.asarray(y).dtype.kind in "OUS"
                                                    else np.asarray(y).ravel())
    name = s.name if isinstance(s.name, str) and s.name not in names else "label"
    while name in names:
        name += "_"
    col, _ = _column(s.reset_index(drop=True))
    return name, col


def feature_names(df):
    """local: the DataFrame's column names as scikit-learn keeps them (feature_names_in_), or
    None when they are not all strings."""
    names = list(df.columns)
    return np.asarray(names, dtype=object) if all(isinstance(n, str) for n in names) else None
