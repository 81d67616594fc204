"""TSDataset (include/bigdl/chronos/tsdataset.h through bigdl_cpp.chronos.data) against
pandas / sklearn / NumPy on the same data (issue 13, must-show 3 and 4)."""
import os

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from bigdl_cpp.chronos.data import TSDataset, get_public_dataset


def frame(n=60, seed=0, gaps=True):
    rng = np.random.default_rng(seed)
    dt = pd.date_range("2024-02-27 22:00", periods=n, freq="17min")
    a = rng.normal(10, 3, n)
    b = rng.normal(-2, 1, n)
    if gaps:
        a[[0, 1, 7, 8, 9, 30, n - 1]] = np.nan
        b[[4, 20, 21]] = np.nan
    return pd.DataFrame({"time": dt, "a": a, "b": b})


def values(ts):
    return ts.to_pandas()[ts.target_col + ts.feature_col].to_numpy()


def scaled_nyc_taxi(lookback=None, horizon=None, features=None):
    """nyc_taxi's train / val / test, last-value imputed, optional calendar features, scaled
    with the training split's statistics, and rolled when lookback is given."""
    parts = get_public_dataset("nyc_taxi")
    scaler = StandardScaler()
    for i, ts in enumerate(parts):
        ts.impute("last")
        if features:
            ts.gen_dt_feature(features)
        ts.scale(scaler, fit=(i == 0))
        if lookback is not None:
            ts.roll(lookback=lookback, horizon=horizon)
    return parts


def test_round_trip_keeps_rows_and_times():
    df = frame(gaps=False)
    ts = TSDataset.from_pandas(df, dt_col="time", target_col="a", extra_feature_col=["b"])
    out = ts.to_pandas()
    assert list(out.columns) == ["time", "a", "b"]
    pd.testing.assert_series_equal(out["time"], df["time"].astype("datetime64[ns]"), check_names=False)
    np.testing.assert_array_equal(out[["a", "b"]].to_numpy(), df[["a", "b"]].to_numpy())


@pytest.mark.parametrize("mode", ["last", "const", "linear"])
def test_impute_matches_pandas(mode):
    df = frame()
    ts = TSDataset.from_pandas(df, dt_col="time", target_col="a", extra_feature_col=["b"]).impute(mode, const_num=5)
    d = df.set_index("time")[["a", "b"]]
    if mode == "last":
        ref = d.ffill().bfill()
    elif mode == "const":
        ref = d.fillna(5)
    else:
        ref = d.interpolate(method="time").bfill()
    np.testing.assert_allclose(values(ts), ref.to_numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("merge", ["mean", "max", "min", "sum"])
def test_resample_matches_pandas(merge):
    df = frame(n=200)
    ts = TSDataset.from_pandas(df, dt_col="time", target_col="a", extra_feature_col=["b"]).resample("1h", merge_mode=merge)
    ref = getattr(df.set_index("time")[["a", "b"]].resample("1h"), merge)()
    if merge == "sum":  # pandas sums an empty bucket to 0; ours is NaN (nothing was observed)
        counts = df.set_index("time")[["a", "b"]].resample("1h").count().to_numpy()
        ref = ref.where(counts > 0)
    out = ts.to_pandas()
    np.testing.assert_array_equal(out["time"].to_numpy(), ref.index.to_numpy())
    np.testing.assert_allclose(values(ts), ref.to_numpy(), rtol=1e-12, atol=1e-12, equal_nan=True)


def test_dt_features_match_pandas():
    df = frame(n=300, gaps=False)
    ts = TSDataset.from_pandas(df, dt_col="time", target_col="a").gen_dt_feature()
    out = ts.to_pandas()
    t = df["time"].dt
    ref = {"MINUTE": t.minute, "HOUR": t.hour, "DAY": t.day, "WEEKDAY": t.weekday, "MONTH": t.month,
           "DAYOFYEAR": t.dayofyear, "IS_WEEKEND": (t.weekday >= 5).astype(int)}
    assert ts.feature_col == list(ref)
    for name, col in ref.items():
        np.testing.assert_array_equal(out[name].to_numpy(), col.to_numpy(dtype=float), err_msg=name)


@pytest.mark.parametrize("kind", [StandardScaler, MinMaxScaler])
def test_scale_fits_on_train_only_like_sklearn(kind):
    df = frame(n=100, gaps=False)
    train, val, test = TSDataset.from_pandas(df, dt_col="time", target_col="a", extra_feature_col=["b"],
                                             with_split=True, val_ratio=0.1, test_ratio=0.2)
    assert (len(train), len(val), len(test)) == (70, 10, 20)
    ours, ref = kind(), kind()
    ref.fit(df[["a", "b"]].iloc[:70])
    for i, ts in enumerate([train, val, test]):
        ts.scale(ours, fit=(i == 0))
    np.testing.assert_allclose(values(test), ref.transform(df[["a", "b"]].iloc[80:]), rtol=1e-12, atol=1e-12)
    pred = np.asarray(values(test)[:, :1], dtype=np.float32)
    np.testing.assert_allclose(test.unscale_numpy(pred)[:, 0], df["a"].iloc[80:].to_numpy(), rtol=1e-5)


def test_roll_windows_equal_numpy_and_share_memory():
    df = frame(n=50, gaps=False)
    ts = TSDataset.from_pandas(df, dt_col="time", target_col="a", extra_feature_col=["b"]).roll(lookback=7, horizon=3)
    x, y = ts.to_numpy()
    v = df[["a", "b"]].to_numpy().astype(np.float32)
    n = 50 - 7 - 3 + 1
    assert x.shape == (n, 7, 2) and y.shape == (n, 3, 1)
    for i in (0, 17, n - 1):
        np.testing.assert_array_equal(x[i], v[i:i + 7])
        np.testing.assert_array_equal(y[i, :, 0], v[i + 7:i + 10, 0])
    assert x.strides == (8, 8, 4)  # one row apart: views over one copy of the series
    assert np.shares_memory(x, y) and not x.flags.writeable


def test_several_series_roll_each_and_concatenate():
    a, b = frame(n=30, gaps=False), frame(n=20, seed=1, gaps=False)
    df = pd.concat([a.assign(id="s1"), b.assign(id="s2")], ignore_index=True)
    ts = TSDataset.from_pandas(df, dt_col="time", target_col="a", id_col="id").roll(lookback=5, horizon=2)
    x, y = ts.to_numpy()
    assert x.shape == (24 + 14, 5, 1)
    np.testing.assert_array_equal(x[24, :, 0], b["a"].to_numpy(np.float32)[:5])
    assert list(ts.to_pandas()["id"].unique()) == ["s1", "s2"]


def test_deduplicate_keeps_the_first_row_of_a_timestamp():
    df = frame(n=20, gaps=False)
    dup = pd.concat([df.iloc[:10], df.iloc[[9]].assign(a=-1.0), df.iloc[10:]], ignore_index=True)
    ts = TSDataset.from_pandas(dup, dt_col="time", target_col="a").deduplicate()
    np.testing.assert_array_equal(values(ts)[:, 0], dup.drop_duplicates(subset=["time"])["a"].to_numpy())


def test_public_datasets_are_read_from_the_shared_folder():
    train, val, test = get_public_dataset("nyc_taxi")
    assert (len(train), len(val), len(test)) == (8256, 1032, 1032)  # 10,320 half-hours
    first = train.to_pandas().iloc[0]
    assert str(first["timestamp"]) == "2014-07-01 00:00:00" and first["value"] == 10844
    ett = get_public_dataset("ETTh1", with_split=False)
    assert len(ett) == 17420 and ett.target_col == ["OT"] and len(ett.feature_col) == 6


def test_bad_input_is_one_line_naming_the_column_or_setting():
    df = frame(n=30, gaps=False)
    with pytest.raises(ValueError, match="dt_col 'when' is not a column"):
        TSDataset.from_pandas(df, dt_col="when", target_col="a")
    with pytest.raises(ValueError, match="dt_col goes backwards at row 11"):
        TSDataset.from_pandas(df.iloc[list(range(10)) + [5] + list(range(10, 30))], dt_col="time", target_col="a")
    with pytest.raises(ValueError, match="dt_col 'a' does not hold date-times|dt_col goes backwards"):
        TSDataset.from_pandas(df.assign(a=["x"] * 30), dt_col="a", target_col="b")
    ts = TSDataset.from_pandas(df, dt_col="time", target_col="a")
    with pytest.raises(ValueError, match="has 30 rows, fewer than lookback \\+ horizon = 31"):
        ts.roll(lookback=30, horizon=1)
    with pytest.raises(ValueError, match="horizon must be >= 1, got 0"):
        ts.roll(lookback=5, horizon=0)
    gappy = TSDataset.from_pandas(frame(n=40), dt_col="time", target_col="a")
    with pytest.raises(ValueError, match="column 'a' has NaN at 2024-02-27 22:00:00 \\(impute first\\)"):
        gappy.roll(lookback=5, horizon=1)
    with pytest.raises(ValueError, match="impute mode must be last, const or linear"):
        gappy.impute("mean")
    with pytest.raises(ValueError) as err:
        ts.roll(lookback=30, horizon=1)
    assert "\n" not in str(err.value)


# ------------------------------------------------------------------ forecasters
def test_dlinear_forecaster_learns_nyc_taxi_and_beats_seasonal_naive(tmp_path):
    from bigdl_cpp.chronos.forecaster import DLinearForecaster

    train, val, test = scaled_nyc_taxi(336, 1)
    f = DLinearForecaster.from_tsdataset(train, lr=0.005, seed=0)
    hist = f.fit(train, validation_data=val, epochs=4, batch_size=32, earlystop_patience=2, lr_decay=0.5)
    assert hist["val_loss"][-1] < hist["val_loss"][0] or len(hist["val_loss"]) < 4
    xt, yt = test.to_numpy()
    ours = f.evaluate(test, metrics=("mse", "smape"))
    # Seasonal naive: the value one week (336 half-hours) earlier = the window's first row.
    naive = float(np.mean((xt[:, 0, 0] - yt[:, 0, 0]) ** 2))
    print(f"nyc_taxi, 1 step ahead: DLinear test MSE {ours['mse']:.4f} (scaled), seasonal naive {naive:.4f}")
    assert ours["mse"] < 0.5 * naive
    # In the data's units, and save / load gives the same forecasts.
    pred = f.predict(test)
    assert pred.shape == yt.shape
    back = test.unscale_numpy(pred)
    assert 0 < float(np.median(back)) < 40000
    f.save(tmp_path / "dlinear.npz")
    g = DLinearForecaster.from_tsdataset(train).load(tmp_path / "dlinear.npz")
    np.testing.assert_array_equal(g.predict(test), pred)


def test_dlinear_forecaster_rejects_mismatched_windows():
    from bigdl_cpp.chronos.forecaster import DLinearForecaster

    f = DLinearForecaster(past_seq_len=10, future_seq_len=2, input_feature_num=3, output_feature_num=1)
    x = np.zeros((5, 10, 3), np.float32)
    with pytest.raises(ValueError, match=r"y must be \[n, future_seq_len=2, output_feature_num=1\], got \[5, 3, 1\]"):
        f.fit((x, np.zeros((5, 3, 1), np.float32)))
    with pytest.raises(ValueError, match=r"x must be \[n, past_seq_len=10, input_feature_num=3\]"):
        f.predict(np.zeros((5, 9, 3), np.float32))
    assert f.predict(x).shape == (5, 2, 1)  # the first channel (the target) only


def test_the_seed_tcn_example_beats_seasonal_naive(capsys):
    """examples/python/chronos_tcn_nyc_taxi.py: the seed's TCN example (lookback 100,
    horizon 1, unscaled data as in the original; BigDL's normalization trick on)."""
    import os
    import runpy

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = runpy.run_path(os.path.join(root, "examples", "python", "chronos_tcn_nyc_taxi.py"))
    (tcn_mse, tcn_smape), (naive_mse, naive_smape) = env["scores"].values()
    print(capsys.readouterr().out)
    assert tcn_mse < 0.2 * naive_mse and tcn_smape < 0.7 * naive_smape
    assert env["pred"].shape == (932, 1, 1)


# ------------------------------------------------------------------ detectors
def spiky_sine(n=600, spikes=(100, 333, 480)):
    t = np.arange(n)
    y = np.sin(2 * np.pi * t / 48) + 0.05 * np.random.default_rng(0).normal(size=n)
    y[list(spikes)] += 3.0
    return y, np.sin(2 * np.pi * t / 48), set(spikes)


def test_threshold_detector_on_residuals_and_on_a_range():
    from bigdl_cpp.chronos.detector.anomaly import ThresholdDetector

    y, forecast, spikes = spiky_sine()
    td = ThresholdDetector().fit(y, forecast, ratio=0.005)
    assert set(td.anomaly_indexes()) == spikes
    assert td.score().shape == y.shape and td.threshold > 1.0
    assert set(ThresholdDetector().fit(y, forecast, threshold=2.0).anomaly_indexes()) == spikes
    assert set(ThresholdDetector().fit(y, threshold=(-1.5, 1.5)).anomaly_indexes()) == spikes
    with pytest.raises(ValueError, match="y has 600 points but y_pred 599"):
        ThresholdDetector().fit(y, forecast[1:])
    with pytest.raises(ValueError, match="NaN"):
        ThresholdDetector().fit(np.array([1.0, np.nan]), threshold=(0, 1))


def test_ae_and_dbscan_detectors_find_injected_spikes():
    from bigdl_cpp.chronos.detector.anomaly import AEDetector, DBScanDetector

    y, _, spikes = spiky_sine()
    ae = AEDetector(roll_len=24, ratio=0.005, epochs=30).fit(y)
    assert set(ae.anomaly_indexes()) == spikes
    db = DBScanDetector(eps=0.3, min_samples=5).fit(y)
    assert set(db.anomaly_indexes()) == spikes
    with pytest.raises(ValueError, match="not more than roll_len=24"):
        AEDetector(roll_len=24).fit(y[:20])


# ------------------------------------------------------------------ AutoTS
def test_autots_finds_a_config_that_beats_the_default_tcn(tmp_path):
    """The seed's AutoTSEstimator(model="tcn") on nyc_taxi: the search's best validation MSE
    is below the default TCNForecaster's (3 epochs each); the trials are a CSV table, and
    the pipeline forecasts the test split in passengers."""
    import csv

    from bigdl_cpp.chronos.autots import AutoTSEstimator
    from bigdl_cpp.chronos.forecaster import TCNForecaster
    from bigdl_cpp.orca.automl import hp

    train, val, test = scaled_nyc_taxi()
    train.roll(lookback=100, horizon=1)
    val.roll(lookback=100, horizon=1)
    default = TCNForecaster.from_tsdataset(train, seed=0)
    default.fit(train, epochs=3)
    base = default.evaluate(val, metrics=("mse",))["mse"]
    est = AutoTSEstimator(model="tcn", past_seq_len=hp.choice([48, 100, 168]), future_seq_len=1,
                          logs_dir=str(tmp_path))
    pipeline = est.fit(train, validation_data=val, epochs=3, n_sampling=2)
    best = est.get_best_config()
    print(f"nyc_taxi validation MSE: default TCN {base:.5f}, AutoTS best {best['mse']:.5f} ({best})")
    assert best["mse"] < base
    rows = list(csv.DictReader(open(est.trials_csv)))
    assert len(rows) == 2 and {"trial", "lr", "past_seq_len", "mse", "seconds"} <= set(rows[0])
    scores = pipeline.evaluate(test, metrics=["mse", "smape"])
    assert scores["smape"] < 15  # percent, in passengers
    assert pipeline.predict(test).shape[1:] == (1, 1)
    with pytest.raises(ValueError, match="validation_data is required"):
        est.fit(train, n_sampling=1)


def test_lstm_forecaster_learns_nyc_taxi():
    from bigdl_cpp.chronos.forecaster import LSTMForecaster

    train, val, test = scaled_nyc_taxi(48, 2)
    f = LSTMForecaster.from_tsdataset(train, seed=0)
    assert (f.past_seq_len, f.future_seq_len) == (48, 2)
    f.fit(train, validation_data=val, epochs=5, batch_size=64, earlystop_patience=2)
    xt, yt = test.to_numpy()
    persistence = float(np.mean((xt[:, -1:, :1] - yt) ** 2))  # the last value, repeated
    mse = f.evaluate(test, metrics=("mse",))["mse"]
    print(f"nyc_taxi, 2 steps ahead: LSTM test MSE {mse:.4f} (scaled), persistence {persistence:.4f}")
    assert mse < 0.5 * persistence


def test_patchtst_forecaster_learns_nyc_taxi_and_keeps_channels_apart(tmp_path):
    from bigdl_cpp.chronos.forecaster import PatchTSTForecaster

    train, val, test = scaled_nyc_taxi(96, 4, features=["HOUR"])
    # Two input channels (the value, the hour), the value forecast.
    f = PatchTSTForecaster.from_tsdataset(train, lr=0.001, dropout=0.1, seed=0)
    assert (f.input_feature_num, f.output_feature_num, f.net.num_patches) == (2, 1, 12)
    f.fit(train, validation_data=val, epochs=4, batch_size=64, earlystop_patience=2,
          lr_schedule=lambda e: 0.001 * 0.9 ** max(0, e - 2))
    xt, yt = test.to_numpy()
    persistence = float(np.mean((xt[:, -1:, :1] - yt) ** 2))
    mse = f.evaluate(test, metrics=("mse",))["mse"]
    print(f"nyc_taxi, 4 steps ahead: PatchTST test MSE {mse:.4f} (scaled), persistence {persistence:.4f}")
    assert mse < 0.5 * persistence
    # Channel independence: the value's forecast does not move when the hour channel does.
    x = np.array(xt[:64])
    before = f.predict(x)
    x[:, :, 1] = np.random.default_rng(0).standard_normal(x[:, :, 1].shape)
    np.testing.assert_allclose(f.predict(x), before, rtol=1e-5, atol=1e-6)
    f.save(tmp_path / "patchtst.npz")
    g = PatchTSTForecaster.from_tsdataset(train, dropout=0.1).load(tmp_path / "patchtst.npz")
    np.testing.assert_array_equal(g.predict(xt[:64]), f.predict(xt[:64]))


def test_patchtst_bad_settings_are_one_line_errors():
    from bigdl_cpp.chronos.forecaster import PatchTSTForecaster

    with pytest.raises(ValueError, match=r"\[PatchTST\] patch_len must be in \[1, lookback\].*patch_len 16.*lookback 8"):
        PatchTSTForecaster(past_seq_len=8, future_seq_len=2, input_feature_num=1, output_feature_num=1)
    with pytest.raises(ValueError, match=r"embed_dim must be positive and divisible by num_heads, got 10 and 4"):
        PatchTSTForecaster(past_seq_len=32, future_seq_len=2, input_feature_num=1, output_feature_num=1, d_model=10)
    with pytest.raises(ValueError, match=r"norm must be 'layer' or 'batch', got 'group'"):
        PatchTSTForecaster(past_seq_len=32, future_seq_len=2, input_feature_num=1, output_feature_num=1, norm="group")
    with pytest.raises(ValueError, match=r"give lr_decay or lr_schedule, not both"):
        f = PatchTSTForecaster(past_seq_len=32, future_seq_len=2, input_feature_num=1, output_feature_num=1)
        f.fit((np.zeros((4, 32, 1), np.float32), np.zeros((4, 2, 1), np.float32)), lr_decay=0.5,
              lr_schedule=lambda e: 0.1)


@pytest.mark.parametrize("kind", ["nbeats", "seq2seq"])
def test_nbeats_and_seq2seq_forecasters_learn_nyc_taxi(kind, tmp_path):
    from bigdl_cpp.chronos.forecaster import NBeatsForecaster, Seq2SeqForecaster

    train, val, test = scaled_nyc_taxi(48, 4)
    if kind == "nbeats":  # the interpretable configuration: a trend and a seasonality stack
        f = NBeatsForecaster.from_tsdataset(train, stack_types=("trend", "seasonality"), thetas_dim=(3, 0),
                                            nb_blocks_per_stack=2, hidden_layer_units=64, seed=0)
    else:
        f = Seq2SeqForecaster.from_tsdataset(train, lstm_hidden_dim=32, lstm_layer_num=1, dropout=0.1, lr=0.005, seed=0)
    f.fit(train, validation_data=val, epochs=4, batch_size=64, earlystop_patience=2, log_dir=tmp_path / "tb")
    for sub in ("train", "validation"):  # TensorBoard curves
        assert any(p.name.startswith("events.out.tfevents") and p.stat().st_size > 0
                   for p in (tmp_path / "tb" / sub).iterdir())
    xt, yt = test.to_numpy()
    persistence = float(np.mean((xt[:, -1:, :1] - yt) ** 2))
    mse = f.evaluate(test, metrics=("mse",))["mse"]
    print(f"nyc_taxi, 4 steps ahead: {kind} test MSE {mse:.4f} (scaled), persistence {persistence:.4f}")
    assert mse < 0.5 * persistence
    f.save(tmp_path / "f.npz")
    g = type(f).from_tsdataset(train, **({"stack_types": ("trend", "seasonality"), "thetas_dim": (3, 0),
                                           "nb_blocks_per_stack": 2, "hidden_layer_units": 64} if kind == "nbeats"
                                          else {"lstm_hidden_dim": 32, "lstm_layer_num": 1}))
    g.load(tmp_path / "f.npz")
    np.testing.assert_array_equal(g.predict(xt[:32]), f.predict(xt[:32]))


def test_nbeats_and_seq2seq_bad_settings():
    from bigdl_cpp.chronos.forecaster import NBeatsForecaster, Seq2SeqForecaster

    with pytest.raises(ValueError, match=r"\[NBeats\] stack_types\[1\] must be 'generic', 'trend' or 'seasonality', got 'linear'"):
        NBeatsForecaster(past_seq_len=24, future_seq_len=4, stack_types=("generic", "linear"))
    with pytest.raises(ValueError, match=r"\[NBeats\] thetas_dim has 2 entries for 3 stacks"):
        NBeatsForecaster(past_seq_len=24, future_seq_len=4, stack_types=("generic",) * 3)
    with pytest.raises(ValueError, match=r"teacher_forcing=True is not supported"):
        Seq2SeqForecaster(past_seq_len=24, future_seq_len=4, input_feature_num=1, output_feature_num=1,
                          teacher_forcing=True)
    with pytest.raises(ValueError, match=r"\[Seq2Seq\] output_features 2 exceeds input_features 1"):
        Seq2SeqForecaster(past_seq_len=24, future_seq_len=4, input_feature_num=1, output_feature_num=2)


def test_predict_interval_covers_and_plots(tmp_path):
    from bigdl_cpp.chronos.forecaster import DLinearForecaster
    from bigdl_cpp.chronos.plot import plot_anomalies, plot_forecast

    train, val, test = scaled_nyc_taxi(96, 2)
    f = DLinearForecaster.from_tsdataset(train, lr=0.005, seed=0)
    f.fit(train, epochs=2, batch_size=32)
    xt, yt = test.to_numpy()
    pred, lo, hi = f.predict_interval(test, validation_data=val, alpha=0.1)
    assert pred.shape == lo.shape == hi.shape == yt.shape and np.all(lo <= pred) and np.all(pred <= hi)
    coverage = float(np.mean((yt >= lo) & (yt <= hi)))
    print(f"nyc_taxi: 90% split-conformal interval covers {coverage:.3f} of the test values")
    # The guarantee needs validation and test windows alike; nyc_taxi's test months hold the
    # holidays and the blizzard, so a little less is covered there.
    assert 0.8 <= coverage <= 0.97
    # A stationary series (daily sine plus noise), where the guarantee holds: about 90%.
    rng = np.random.default_rng(0)
    n = 6000
    series = np.sin(np.arange(n) * 2 * np.pi / 48) + 0.3 * rng.standard_normal(n)
    df = pd.DataFrame({"t": pd.date_range("2024-01-01", periods=n, freq="30min"), "v": series})
    parts = TSDataset.from_pandas(df, dt_col="t", target_col="v", with_split=True, val_ratio=0.3, test_ratio=0.3)
    for ts in parts:
        ts.roll(lookback=96, horizon=2)
    g = DLinearForecaster.from_tsdataset(parts[0], lr=0.005, seed=0)
    g.fit(parts[0], epochs=2, batch_size=32)
    ys = parts[2].to_numpy()[1]
    _, lo2, hi2 = g.predict_interval(parts[2], validation_data=parts[1], alpha=0.1)
    coverage = float(np.mean((ys >= lo2) & (ys <= hi2)))
    print(f"sine + noise: 90% split-conformal interval covers {coverage:.3f} of the test values")
    assert 0.87 <= coverage <= 0.93
    png = plot_forecast(yt[:300], pred[:300], tmp_path / "f.png", lower=lo[:300], upper=hi[:300])
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    png = plot_anomalies(np.arange(50), np.sin(np.arange(50)), [3, 17], tmp_path / "a.png")
    assert os.path.getsize(png) > 1000 and not any(p.name.endswith(".tmp.png") for p in tmp_path.iterdir())
    with pytest.raises(ValueError, match=r"alpha must be in \(0, 1\)"):
        f.predict_interval(test, validation_data=val, alpha=1.5)


@pytest.mark.parametrize("model", ["seq2seq", "nbeats", "patchtst"])
def test_autots_searches_the_other_forecasters(model, tmp_path):
    from bigdl_cpp.chronos.autots import AutoTSEstimator

    train, val, test = scaled_nyc_taxi()
    est = AutoTSEstimator(model=model, past_seq_len=48, future_seq_len=2, logs_dir=str(tmp_path))
    pipeline = est.fit(train, validation_data=val, epochs=1, n_sampling=1)
    best = est.get_best_config()
    assert np.isfinite(best["mse"]) and best["mse"] < 1.0  # scaled data: well below the variance
    assert pipeline.predict(test).shape[1:] == (2, 1)


@pytest.mark.parametrize("kind", ["tcn", "lstm", "seq2seq"])
def test_quantile_forecasters_bracket_the_values(kind):
    from bigdl_cpp.chronos.forecaster import LSTMForecaster, Seq2SeqForecaster, TCNForecaster

    train, val, test = scaled_nyc_taxi(48, 2)
    cls = {"tcn": TCNForecaster, "lstm": LSTMForecaster, "seq2seq": Seq2SeqForecaster}[kind]
    f = cls.from_tsdataset(train, loss="quantile", quantiles=(0.9, 0.1, 0.5), lr=0.005, seed=0)
    assert f.quantiles == (0.1, 0.5, 0.9)
    f.fit(train, validation_data=val, epochs=3, batch_size=64, earlystop_patience=2)
    xt, yt = test.to_numpy()
    q = f.predict_quantiles(test)
    assert q.shape == yt.shape + (3,)
    np.testing.assert_array_equal(f.predict(test), q[..., 1])  # the point forecast: the median
    below = [float(np.mean(yt <= q[..., k])) for k in range(3)]
    print(f"nyc_taxi {kind}: share of test values below the 0.1 / 0.5 / 0.9 forecasts: "
          + " / ".join(f"{b:.3f}" for b in below))
    assert below[0] < below[1] < below[2]
    assert 0.02 <= below[0] <= 0.25 and 0.3 <= below[1] <= 0.7 and 0.75 <= below[2] <= 0.98
    pred, lo, hi = f.predict_interval(test)  # the 0.1 .. 0.9 band
    np.testing.assert_array_equal(lo, q[..., 0])
    np.testing.assert_array_equal(hi, q[..., 2])


def test_quantile_loss_is_refused_where_not_offered():
    from bigdl_cpp.chronos.forecaster import DLinearForecaster, TCNForecaster

    with pytest.raises(ValueError, match=r"DLinearForecaster: loss='quantile' is not supported"):
        DLinearForecaster(past_seq_len=24, future_seq_len=2, input_feature_num=1, output_feature_num=1, loss="quantile")
    with pytest.raises(ValueError, match=r"quantiles must be in \(0, 1\), got \[0.5, 1.5\]"):
        TCNForecaster(past_seq_len=24, future_seq_len=2, input_feature_num=1, output_feature_num=1, loss="quantile",
                      quantiles=(0.5, 1.5))
    f = TCNForecaster(past_seq_len=24, future_seq_len=2, input_feature_num=1, output_feature_num=1)
    with pytest.raises(ValueError, match="not built with loss='quantile'"):
        f.predict_quantiles(np.zeros((3, 24, 1), np.float32))
    with pytest.raises(ValueError, match="give validation_data"):
        f.predict_interval(np.zeros((3, 24, 1), np.float32))


def test_loaders_give_the_windows_in_batches():
    import torch

    _, _, test = get_public_dataset("nyc_taxi")
    test.impute("last").roll(lookback=24, horizon=2)
    x, y = test.to_numpy()
    loader = test.to_loader(batch_size=100)
    assert len(loader) == -(-len(x) // 100)
    bx, by = zip(*loader)
    np.testing.assert_array_equal(np.concatenate(bx), x)
    np.testing.assert_array_equal(np.concatenate(by), y)
    shuffled = np.concatenate([b for b, _ in test.to_loader(batch_size=64, shuffle=True, seed=1)])
    assert not np.array_equal(shuffled, x)
    np.testing.assert_array_equal(np.sort(shuffled[:, 0, 0]), np.sort(x[:, 0, 0]))
    assert len(test.to_loader(batch_size=100, drop_last=True)) == len(x) // 100
    tl = test.to_torch_data_loader(batch_size=50, roll=True, lookback=24, horizon=2, shuffle=False)
    tx, ty = next(iter(tl))
    assert tx.dtype == torch.float32 and tuple(tx.shape) == (50, 24, 1) and tuple(ty.shape) == (50, 2, 1)
    np.testing.assert_array_equal(tx.numpy(), x[:50])
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        test.to_loader(batch_size=0)
