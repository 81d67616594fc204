"""Anomaly detectors with BigDL Chronos' API: fit(y, ...), score(), anomaly_indexes().

    from bigdl_cpp.chronos.detector.anomaly import ThresholdDetector, AEDetector, DBScanDetector
    td = ThresholdDetector()
    td.fit(y, y_pred, ratio=0.01)          # forecast residuals; or td.fit(y, threshold=(lo, hi)) on values
    td.anomaly_indexes()

ThresholdDetector: on forecast residuals |y - y_pred| (largest `ratio` of them, or above a
given threshold) or on raw values outside a (low, high) range. AEDetector: an autoencoder
(the C++ engine, bigdl_cpp.dllib.keras) over rolling windows of the series; a point's score
is its largest reconstruction error over the windows that hold it. DBScanDetector:
scikit-learn's DBSCAN on the values; points in no cluster are anomalies.
"""
import numpy as np

__all__ = ["ThresholdDetector", "AEDetector", "DBScanDetector"]


def _series(y, what):
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"{what}: expected a 1-D series (or [n, 1]), got shape {list(y.shape)}")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{what}: the series has NaN or infinite values (impute first)")
    return y


def _top(scores, ratio, what):
    if not 0 < ratio < 1:
        raise ValueError(f"{what}: ratio must be in (0, 1), got {ratio}")
    k = max(1, int(round(len(scores) * ratio)))
    return np.sort(np.argsort(-scores, kind="stable")[:k])


class _Detector:
    """What every detector answers after fit: a score per point and the anomalies' indexes."""

    _scores = None
    _indexes = None

    def score(self):
        if self._scores is None:
            raise ValueError(f"{type(self).__name__}: call fit first")
        return self._scores

    def anomaly_indexes(self):
        if self._indexes is None:
            raise ValueError(f"{type(self).__name__}: call fit first")
        return self._indexes


class ThresholdDetector(_Detector):
    def __init__(self):
        self.threshold = None

    def fit(self, y, y_pred=None, ratio=0.01, threshold=None):
        """y_pred given: anomalies where |y - y_pred| exceeds `threshold` (a number), or the
        largest `ratio` of the residuals when threshold is None. y_pred None: threshold =
        (low, high), anomalies outside it."""
        y = _series(y, "ThresholdDetector.fit")
        if y_pred is not None:
            p = _series(y_pred, "ThresholdDetector.fit y_pred")
            if len(p) != len(y):
                raise ValueError(f"ThresholdDetector.fit: y has {len(y)} points but y_pred {len(p)}")
            self._scores = np.abs(y - p)
            if threshold is None:
                self._indexes = _top(self._scores, ratio, "ThresholdDetector.fit")
                self.threshold = float(self._scores[self._indexes].min())
            else:
                self.threshold = float(threshold)
                self._indexes = np.flatnonzero(self._scores > self.threshold)
        else:
            if threshold is None or np.ndim(threshold) != 1 or len(threshold) != 2:
                raise ValueError("ThresholdDetector.fit: without y_pred, threshold must be (low, high)")
            lo, hi = float(threshold[0]), float(threshold[1])
            self.threshold = (lo, hi)
            self._scores = np.maximum(lo - y, 0) + np.maximum(y - hi, 0)
            self._indexes = np.flatnonzero(self._scores > 0)
        return self


class AEDetector(_Detector):
    """An autoencoder over windows of roll_len points (Dense roll_len -> roll_len *
    compress_rate -> roll_len, ReLU inside), trained by the C++ engine on the z-scored
    series; a point's score is its largest absolute reconstruction error."""

    def __init__(self, roll_len=24, ratio=0.01, compress_rate=0.8, lr=0.001, batch_size=64, epochs=20, seed=0):
        if roll_len < 2:
            raise ValueError(f"AEDetector: roll_len must be >= 2, got {roll_len}")
        self.roll_len, self.ratio, self.compress_rate = int(roll_len), float(ratio), float(compress_rate)
        self.lr, self.batch_size, self.epochs, self.seed = lr, int(batch_size), int(epochs), seed

    def fit(self, y):
        from bigdl_cpp._native import core
        from bigdl_cpp.dllib.keras import optimizers
        from bigdl_cpp.dllib.keras.layers import Dense
        from bigdl_cpp.dllib.keras.models import Sequential

        y = _series(y, "AEDetector.fit")
        if len(y) <= self.roll_len:
            raise ValueError(f"AEDetector.fit: the series has {len(y)} points, not more than roll_len={self.roll_len}")
        z = ((y - y.mean()) / (y.std() or 1.0)).astype(np.float32)
        windows = np.lib.stride_tricks.sliding_window_view(z, self.roll_len)
        core.manual_seed(int(self.seed))
        ae = Sequential()
        ae.add(Dense(max(1, int(self.roll_len * self.compress_rate)), activation="relu", input_shape=(self.roll_len,)))
        ae.add(Dense(self.roll_len))
        ae.compile(optimizers.Adam(lr=self.lr), "mse")
        ae.fit(np.ascontiguousarray(windows), np.ascontiguousarray(windows), batch_size=self.batch_size,
               epochs=self.epochs, verbose=0, seed=int(self.seed))
        err = np.abs(ae.predict(np.ascontiguousarray(windows), batch_size=1024) - windows)
        scores = np.zeros(len(y))
        for k in range(self.roll_len):  # window i covers points i .. i + roll_len - 1
            np.maximum.at(scores, np.arange(len(windows)) + k, err[:, k])
        self._scores = scores
        self._indexes = _top(scores, self.ratio, "AEDetector.fit")
        return self


class DBScanDetector(_Detector):
    """scikit-learn's DBSCAN on the values (eps in the series' units, min_samples); points
    that fall in no cluster are anomalies."""

    def __init__(self, eps=0.01, min_samples=6, **kwargs):
        self.eps, self.min_samples, self.kwargs = float(eps), int(min_samples), kwargs

    def fit(self, y):
        from sklearn.cluster import DBSCAN

        y = _series(y, "DBScanDetector.fit")
        labels = DBSCAN(eps=self.eps, min_samples=self.min_samples, **self.kwargs).fit(y.reshape(-1, 1)).labels_
        self._indexes = np.flatnonzero(labels == -1)
        self._scores = (labels == -1).astype(np.float64)  # 1 for the points in no cluster
        return self
