"""A mixed table for the DataFrame tests (test_tables.py, mpi_tables.py) and an encoder written
independently of kmpi (pandas + numpy): one-hot over the sorted training categories, the training
mean for a missing numeric value, an optional missing indicator, numeric columns standardized
(population standard deviation), and exact Gaussian kernel ridge regression on the result."""
import numpy as np
import pandas as pd


def table(n, seed, unseen=False):
    """A DataFrame of n rows: float with NaN, text with None, a nullable integer, a category
    column, a plain float, a text with a delimiter inside ("a, b"); and a target y and names."""
    rng = np.random.default_rng(seed)
    age = rng.uniform(20, 60, n).round(2)
    age[np.arange(n) % 7 == 3] = np.nan
    color = rng.choice(["red", "green", "blue"], n).astype(object)
    color[np.arange(n) % 11 == 5] = None
    size = pd.array(rng.integers(1, 6, n), dtype="Int64")
    size[np.arange(n) % 13 == 4] = pd.NA
    city = rng.choice(["Paris", "Rome", "Oslo"], n).astype(object)
    if unseen:
        city[::10] = "Berlin"
    shape = rng.choice(["a, b", 'say "hi"', "plain"], n).astype(object)
    income = rng.normal(50, 10, n).round(3)
    df = pd.DataFrame({"age": age, "color": color, "size": size,
                       "city": pd.Categorical(city), "shape": shape, "income": income})
    a = np.where(np.isnan(age), 40.0, age)
    y = a / 20 + (color == "blue") - 0.5 * (city == "Rome") + 0.01 * income
    names = np.where((color == "red") ^ (a > 40), "yes", "no").astype(object)
    return df, y.astype(float), names


def encode(train, df, indicators, quantile=False):
    """The reference encoding of df with the training table's categories, means and scales;
    quantile: numeric columns first through scikit-learn's QuantileTransformer (normal output)
    fitted on the column's training values (missing ones left out), a missing value then 0."""
    parts = []
    for c in train.columns:
        if not pd.api.types.is_numeric_dtype(train[c]):
            cats = sorted(set(train[c].dropna().astype(str)))
            parts += [(df[c].astype(object) == k).to_numpy(dtype=float) for k in cats]
        else:
            t = train[c].astype(float)
            if quantile:
                from sklearn.preprocessing import QuantileTransformer
                values = t.dropna().to_numpy()[:, None]
                qt = QuantileTransformer(output_distribution="normal",
                                         n_quantiles=min(1000, len(values))).fit(values)
                def scores(col, qt=qt):
                    out = col.astype(float).to_numpy().copy()
                    ok = ~np.isnan(out)
                    out[ok] = qt.transform(out[ok][:, None])[:, 0]
                    return pd.Series(np.where(ok, out, 0.0))
                nan = t.isna().to_numpy()
                t = scores(t)
                v = scores(df[c]).to_numpy()
                parts.append((v - t.mean()) / t.std(ddof=0))
                if indicators and nan.any():
                    parts.append(df[c].isna().to_numpy(dtype=float))
                continue
            mean = t.mean()
            v = df[c].astype(float).fillna(mean).to_numpy()
            filled = t.fillna(mean).to_numpy()
            parts.append((v - filled.mean()) / filled.std())
            if indicators and t.isna().any():
                parts.append(df[c].isna().to_numpy(dtype=float))
    return np.stack(parts, axis=1)


def krr(X, y, Xt, sigma, ridge):
    def gauss(A, B):
        d2 = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2 * A @ B.T
        return np.exp(-np.maximum(d2, 0) / (2 * sigma * sigma))
    n = len(X)
    return gauss(Xt, X) @ np.linalg.solve(gauss(X, X) + ridge * n * np.eye(n), y)
