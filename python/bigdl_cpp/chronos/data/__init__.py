"""TSDataset and get_public_dataset, with BigDL Chronos' names and arguments."""
import os

import numpy as np

from bigdl_cpp._native import chronos as _c

__all__ = ["TSDataset", "get_public_dataset"]


def _list(v):
    if v is None:
        return []
    return [v] if isinstance(v, str) else list(v)


def _seconds(interval):
    """A pandas offset ("1h", "30min", "1D") or a number of seconds."""
    if isinstance(interval, (int, float)):
        return int(interval)
    import pandas as pd

    return int(pd.Timedelta(interval).total_seconds())


class TSDataset:
    """One series, or several (id_col), of timestamped rows: target columns and extra
    feature columns. Operations change the data set in place and return it (chainable)."""

    def __init__(self, impl, dt_col="datetime", id_col=None):
        self._impl = impl
        self.dt_col, self.id_col = dt_col, id_col
        self._rolled = None
        self._scaler = None

    # ---- construction ----
    @staticmethod
    def from_pandas(df, dt_col, target_col, id_col=None, extra_feature_col=None, with_split=False, val_ratio=0,
                    test_ratio=0.1, largest_look_back=0, largest_horizon=1):
        """From a pandas DataFrame; with_split=True returns (train, val, test) cut by time
        (val_ratio, test_ratio of each series' rows)."""
        import pandas as pd

        targets, extras = _list(target_col), _list(extra_feature_col)
        for role, cols in (("dt_col", [dt_col]), ("target_col", targets), ("extra_feature_col", extras),
                           ("id_col", _list(id_col))):
            for c in cols:
                if c not in df.columns:
                    raise ValueError(f"[TSDataset] {role} '{c}' is not a column (columns: {', '.join(map(str, df.columns))})")
        try:
            dt = pd.to_datetime(df[dt_col])
        except (ValueError, TypeError) as e:
            raise ValueError(f"[TSDataset] dt_col '{dt_col}' does not hold date-times ({e})") from None
        if dt.isna().any():
            raise ValueError(f"[TSDataset] dt_col '{dt_col}' has missing values (row {int(np.argmax(dt.isna().to_numpy())) + 1})")
        seconds = (dt.astype("datetime64[ns]").astype("int64") // 10**9).to_numpy()
        values = []
        for c in targets + extras:
            try:
                values.append(pd.to_numeric(df[c]).to_numpy(dtype=np.float64))
            except (ValueError, TypeError):
                raise ValueError(f"[TSDataset] column '{c}' is not numeric") from None
        ids = [] if id_col is None else [str(v) for v in df[id_col]]
        ts = TSDataset(_c.TSDataset.from_columns(seconds.tolist(), ids, targets + extras, values, targets, extras),
                       dt_col, id_col)
        return ts._split(val_ratio, test_ratio) if with_split else ts

    @staticmethod
    def from_csv(path, dt_col, target_col, id_col=None, extra_feature_col=None, with_split=False, val_ratio=0,
                 test_ratio=0.1):
        """From a CSV file with a header, read by the engine."""
        ts = TSDataset(_c.TSDataset.from_csv(str(path), dt_col, _list(target_col), _list(extra_feature_col),
                                             id_col or ""), dt_col, id_col)
        return ts._split(val_ratio, test_ratio) if with_split else ts

    def _split(self, val_ratio, test_ratio):
        return tuple(TSDataset(p, self.dt_col, self.id_col) for p in _c.split(self._impl, float(val_ratio),
                                                                                  float(test_ratio)))

    # ---- cleaning and features ----
    def deduplicate(self):
        self._impl.deduplicate()
        return self

    def impute(self, mode="last", const_num=0):
        """"last", "const" (const_num) or "linear" (in time)."""
        self._impl.impute(mode, float(const_num))
        return self

    def resample(self, interval, start_time=None, end_time=None, merge_mode="mean"):
        """Regular rows every `interval` ("1h", "30min" or seconds), merged by mean / max / min / sum."""
        if start_time is not None or end_time is not None:
            raise ValueError("[TSDataset] resample: start_time / end_time are not supported")
        self._impl.resample(_seconds(interval), merge_mode)
        return self

    def gen_dt_feature(self, features=None):
        """Calendar features appended to the extra features: MINUTE, HOUR, DAY, WEEKDAY,
        MONTH, DAYOFYEAR, IS_WEEKEND (default: all)."""
        self._impl.gen_dt_feature([f.upper() for f in _list(features)])
        return self

    def scale(self, scaler, fit=True):
        """scaler: sklearn's StandardScaler or MinMaxScaler (or "standard" / "minmax");
        fitted here on this data set when fit, else reused (fit it on the training split)."""
        kind = scaler if isinstance(scaler, str) else {"StandardScaler": "standard",
                                                       "MinMaxScaler": "minmax"}.get(type(scaler).__name__)
        if kind is None:
            raise TypeError(f"[TSDataset] scale: expected sklearn's StandardScaler or MinMaxScaler, got "
                            f"{type(scaler).__name__}")
        native = getattr(scaler, "_bigdl_scaler", None) if not isinstance(scaler, str) else None
        if fit or native is None:
            if not fit:
                raise ValueError("[TSDataset] scale: the scaler is not fitted (scale the training split with fit=True)")
            native = _c.Scaler(kind)
            if not isinstance(scaler, str):
                scaler._bigdl_scaler = native
        self._impl.scale(native, bool(fit))
        self._scaler = native
        return self

    def unscale_numpy(self, data):
        """Forecasts in scaled target units [..., targets] back to the data's units."""
        if self._scaler is None:
            raise ValueError("[TSDataset] unscale_numpy: the data set was not scaled")
        return self._impl.unscale(np.ascontiguousarray(data, dtype=np.float32), self._scaler)

    # ---- windows ----
    def roll(self, lookback, horizon, feature_col=None, target_col=None):
        """Windows for to_numpy(): x [n, lookback, targets + features], y [n, horizon, targets]."""
        if feature_col is not None or target_col is not None:
            raise ValueError("[TSDataset] roll: feature_col / target_col selection is not supported; "
                             "build the data set with the columns to use")
        if not isinstance(horizon, (int, np.integer)):
            raise ValueError(f"[TSDataset] roll: horizon must be an int, got {horizon!r}")
        x, y = self._impl.roll(int(lookback), int(horizon))
        x.setflags(write=False)  # the windows overlap in memory
        y.setflags(write=False)
        self._rolled = (x, y)
        return self

    def to_numpy(self):
        if self._rolled is None:
            raise ValueError("[TSDataset] to_numpy: call roll(lookback, horizon) first")
        return self._rolled

    def to_loader(self, batch_size=32, shuffle=False, seed=None, drop_last=False):
        """Batches (x, y) of the rolled windows as NumPy arrays: each batch is copied out of
        the shared windows when it is drawn, so the data set is never copied whole. With
        shuffle, a new permutation each pass (numpy's default_rng(seed))."""
        x, y = self.to_numpy()
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"[TSDataset] to_loader: batch_size must be an int >= 1, got {batch_size!r}")
        return _WindowLoader(x, y, int(batch_size), bool(shuffle), seed, bool(drop_last))

    def to_torch_data_loader(self, batch_size=32, roll=False, lookback=None, horizon=None, shuffle=True,
                             drop_last=False):
        """BigDL's name: a torch.utils.data.DataLoader over the windows (torch float32
        tensors; torch is needed). roll=True rolls first with lookback / horizon."""
        if roll:
            if lookback is None or horizon is None:
                raise ValueError("[TSDataset] to_torch_data_loader: roll=True needs lookback and horizon")
            self.roll(lookback, horizon)
        x, y = self.to_numpy()
        try:
            import torch
        except ImportError:
            raise ImportError("[TSDataset] to_torch_data_loader needs PyTorch; to_loader() gives NumPy batches") from None

        class _Windows(torch.utils.data.Dataset):
            def __len__(self):
                return len(x)

            def __getitem__(self, i):
                return torch.from_numpy(np.array(x[i], np.float32)), torch.from_numpy(np.array(y[i], np.float32))

        return torch.utils.data.DataLoader(_Windows(), batch_size=int(batch_size), shuffle=bool(shuffle),
                                           drop_last=bool(drop_last))

    def to_pandas(self):
        import pandas as pd

        frames = []
        cols = self.target_col + self.feature_col
        for sid, dt, values in self._impl.series():
            d = pd.DataFrame(values, columns=cols)
            d.insert(0, self.dt_col, pd.to_datetime(dt, unit="s"))
            if self.id_col is not None:
                d.insert(1, self.id_col, sid)
            frames.append(d)
        return pd.concat(frames, ignore_index=True)

    @property
    def target_col(self):
        return list(self._impl.target_cols)

    @property
    def feature_col(self):
        return list(self._impl.feature_cols)

    def __len__(self):
        return int(self._impl.rows)


class _WindowLoader:
    """Iterates (x, y) batches of windows; len() is the number of batches."""

    def __init__(self, x, y, batch_size, shuffle, seed, drop_last):
        self.x, self.y, self.batch_size, self.shuffle, self.drop_last = x, y, batch_size, shuffle, drop_last
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        n = len(self.x)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.x)
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        for b in range(len(self)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            yield np.take(self.x, idx, axis=0), np.take(self.y, idx, axis=0)


def _shared_data():
    env = os.environ.get("BIGDL_SHARED_DATA")
    here = os.path.dirname(os.path.abspath(__file__))
    for d in ([env] if env else []) + [os.path.join(here, *[".."] * k, "shared", "data") for k in range(3, 7)]:
        if d and os.path.isdir(os.path.join(d, "timeseries")):
            return os.path.abspath(d)
    raise FileNotFoundError("get_public_dataset: the shared data folder was not found; set BIGDL_SHARED_DATA to the "
                            "folder holding timeseries/ (bigdl-cpp's ../shared/data)")


def get_public_dataset(name, path=None, redownload=False, with_split=True, val_ratio=0.1, test_ratio=0.1):
    """nyc_taxi (NAB's NYC taxi passengers every 30 min; target "value") or ETTh1 (hourly,
    7 variables, target "OT", the other 6 as extra features), from bigdl-cpp's shared data
    folder (no download): (train, val, test) cut by time, or one TSDataset."""
    if redownload:
        raise ValueError("get_public_dataset: nothing is downloaded; the data sets ship with bigdl-cpp's shared data")
    root = path or _shared_data()
    if name == "nyc_taxi":
        file, dt, target, extra = os.path.join(root, "timeseries", "nab", "nyc_taxi.csv"), "timestamp", "value", None
    elif name == "ETTh1":
        file, dt, target = os.path.join(root, "timeseries", "ett", "ETTh1.csv"), "date", "OT"
        extra = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL"]
    else:
        raise ValueError(f"get_public_dataset: unknown data set '{name}' (nyc_taxi, ETTh1)")
    return TSDataset.from_csv(file, dt, target, extra_feature_col=extra, with_split=with_split, val_ratio=val_ratio,
                              test_ratio=test_ratio)
