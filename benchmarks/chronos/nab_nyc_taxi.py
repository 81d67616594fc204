#!/usr/bin/env python3
"""NAB's 5 labelled anomalies in the NYC taxi series (issue 13, must-show 2): how many each
detector finds inside NAB's anomaly windows, and how many false alarms it raises, with a
picture (docs/images/nyc_taxi_anomalies.png).

Detectors: ThresholdDetector on the residuals of a TCNForecaster (lookback 100, horizon 1,
BigDL's defaults, 3 epochs, trained on the whole series: detection is unsupervised);
AEDetector (windows of 48 half-hours); DBScanDetector on the values. Each flags 1% of the
points (DBSCAN: its outliers). A window counts as found when a flagged point lies in it; a
false alarm is a run of flagged points outside every window (points less than 6 hours
apart form one run). Windows and labels: NAB's combined_windows.json / combined_labels.json
in ../shared/data/timeseries/nab.

  ~/.cache/bigdl-cpp/venv/test/bin/python benchmarks/chronos/nab_nyc_taxi.py [--plot PATH]
"""
import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "build", "python"))

KEY = "realKnownCause/nyc_taxi.csv"


def events(times, gap=np.timedelta64(6, "h")):
    """Runs of flagged timestamps (sorted), split where two are more than `gap` apart."""
    if len(times) == 0:
        return []
    runs, start = [], 0
    for i in range(1, len(times) + 1):
        if i == len(times) or times[i] - times[i - 1] > gap:
            runs.append(times[start:i])
            start = i
    return runs


def score(times, flagged, windows):
    hit = [bool(np.any((times[flagged] >= a) & (times[flagged] <= b))) for a, b in windows]
    outside = np.array([not any(a <= t <= b for a, b in windows) for t in times[flagged]], dtype=bool)
    return sum(hit), len(events(times[flagged][outside])), int(outside.sum())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plot", default=os.path.join(ROOT, "docs", "images", "nyc_taxi_anomalies.png"))
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()

    from bigdl_cpp.chronos.data import _shared_data, get_public_dataset
    from bigdl_cpp.chronos.detector.anomaly import AEDetector, DBScanDetector, ThresholdDetector
    from bigdl_cpp.chronos.forecaster import TCNForecaster

    nab = os.path.join(_shared_data(), "timeseries", "nab")
    windows = [(np.datetime64(a[:19]), np.datetime64(b[:19]))
               for a, b in json.load(open(os.path.join(nab, "combined_windows.json")))[KEY]]
    labels = [np.datetime64(t) for t in json.load(open(os.path.join(nab, "combined_labels.json")))[KEY]]
    ts = get_public_dataset("nyc_taxi", with_split=False)
    frame = ts.to_pandas()
    times, y = frame["timestamp"].to_numpy().astype("datetime64[s]"), frame["value"].to_numpy()

    ts.roll(lookback=100, horizon=1)
    f = TCNForecaster.from_tsdataset(ts, seed=0)
    f.fit(ts, epochs=args.epochs)
    pred = f.predict(ts)[:, 0, 0]
    results = {}
    td = ThresholdDetector().fit(y[100:], pred, ratio=0.01)
    results["ThresholdDetector on TCN residuals"] = td.anomaly_indexes() + 100
    results["AEDetector (windows of 48)"] = AEDetector(roll_len=48, ratio=0.01, epochs=20).fit(y).anomaly_indexes()
    results["DBScanDetector (eps 500, min_samples 6)"] = DBScanDetector(eps=500, min_samples=6).fit(y).anomaly_indexes()

    print(f"NYC taxi, {len(y)} half-hours, NAB's {len(windows)} anomaly windows\n")
    print("| detector | points flagged | windows found (of 5) | false alarms (runs) | flagged points outside the windows |")
    print("|---|---|---|---|---|")
    for name, idx in results.items():
        found, false_runs, false_points = score(times, idx, windows)
        print(f"| {name} | {len(idx)} | {found} | {false_runs} | {false_points} |")

    from bigdl_cpp.chronos.plot import plot_anomalies

    plot_anomalies(times, y, results["ThresholdDetector on TCN residuals"], args.plot, windows=windows, labels=labels,
                   title="NYC taxi (NAB): anomalies found by ThresholdDetector on TCNForecaster residuals",
                   flagged_label="flagged: TCN residual, top 1%")
    print(f"\nplot: {args.plot}")


if __name__ == "__main__":
    main()
