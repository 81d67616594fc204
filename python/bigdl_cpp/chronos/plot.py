"""PNG pictures of forecasts and anomalies (matplotlib, Agg backend; written atomically).

    from bigdl_cpp.chronos.plot import plot_forecast, plot_anomalies
    pred, lo, hi = forecaster.predict_interval(test, validation_data=val, alpha=0.1)
    plot_forecast(y_test, pred, "forecast.png", lower=lo, upper=hi, times=test_times)
    plot_anomalies(times, values, detector.anomaly_indexes(), "anomalies.png")
"""
import os

import numpy as np


def _figure(figsize):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize)


def _save(fig, path):
    import matplotlib.pyplot as plt

    path = os.path.abspath(str(path))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp.png"
    try:
        fig.tight_layout()
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def plot_forecast(actual, forecast, path, lower=None, upper=None, times=None, step=0, channel=0,
                  title="forecast vs actual"):
    """Actual values and forecasts of windows [n, H, C] (or a series [n]) for one horizon step
    and channel, with the band lower..upper when given (predict_interval). Returns the path."""
    def pick(a):
        a = np.asarray(a, np.float64)
        if a.ndim == 3:
            return a[:, step, channel]
        if a.ndim != 1:
            raise ValueError(f"plot_forecast: expected windows [n, H, C] or a series [n], got shape {list(a.shape)}")
        return a

    y, p = pick(actual), pick(forecast)
    if y.shape != p.shape:
        raise ValueError(f"plot_forecast: actual {list(y.shape)} and forecast {list(p.shape)} differ in length")
    x = np.arange(len(y)) if times is None else np.asarray(times)[:len(y)]
    fig, ax = _figure((12, 4))
    ax.plot(x, y, lw=0.8, color="0.3", label="actual")
    ax.plot(x, p, lw=0.8, color="tab:blue", label=f"forecast (step {step + 1})")
    if lower is not None and upper is not None:
        ax.fill_between(x, pick(lower), pick(upper), color="tab:blue", alpha=0.2, label="prediction interval")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def plot_anomalies(times, values, anomaly_indexes, path, windows=(), labels=(), title="anomalies",
                   flagged_label="flagged"):
    """The series, its flagged points, and (optionally) labelled windows / instants."""
    times, values = np.asarray(times), np.asarray(values)
    idx = np.asarray(anomaly_indexes, dtype=np.int64)
    fig, ax = _figure((14, 4.5))
    ax.plot(times, values, lw=0.5, color="0.35", label="series")
    for i, (a, b) in enumerate(windows):
        ax.axvspan(a, b, color="tab:orange", alpha=0.25, label="labelled anomaly window" if i == 0 else None)
    for t in labels:
        ax.axvline(t, color="tab:orange", lw=0.8)
    ax.scatter(times[idx], values[idx], s=10, color="tab:red", zorder=3, label=flagged_label)
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)
