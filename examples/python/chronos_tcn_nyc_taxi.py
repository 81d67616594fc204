# BigDL Chronos' README example (the seed's "Show Chronos example"): a TCN forecaster on NYC
# taxi passengers, lookback 100 half-hours, horizon 1, with the imports changed from
# bigdl.chronos to bigdl_cpp.chronos. The original names an undefined `data`, `train_data`
# and `test_data`; here they are the tsdata_* it defines. It prints test MSE and sMAPE
# next to the seasonal-naive forecast (the value one week earlier).
#   PYTHONPATH=build/python BIGDL_SHARED_DATA=../shared/data python3 examples/python/chronos_tcn_nyc_taxi.py
from bigdl_cpp.chronos.forecaster import TCNForecaster
from bigdl_cpp.chronos.data.repo_dataset import get_public_dataset

# 1. Process time series data using `TSDataset`
tsdata_train, tsdata_val, tsdata_test = get_public_dataset(name='nyc_taxi')
for tsdata in [tsdata_train, tsdata_val, tsdata_test]:
    tsdata.roll(lookback=100, horizon=1)

# 2. Create a `TCNForecaster` (automatically configured based on train_data)
forecaster = TCNForecaster.from_tsdataset(tsdata_train)

# 3. Train the forecaster for prediction
forecaster.fit(tsdata_train, epochs=3)

pred = forecaster.predict(tsdata_test)

# Scores on the test split, against the value one week (336 half-hours) earlier.
import numpy as np  # noqa: E402

x, y = tsdata_test.to_numpy()
series = get_public_dataset(name='nyc_taxi', with_split=False).to_pandas()["value"].to_numpy()
targets = np.arange(len(series) - len(y), len(series))  # the test windows' targets, at the series' end
naive = series[targets - 336]
truth = y[:, 0, 0]


def smape(p, t):
    return float(100 * np.mean(2 * np.abs(p - t) / (np.abs(p) + np.abs(t))))


scores = {"TCN": (float(np.mean((pred[:, 0, 0] - truth) ** 2)), smape(pred[:, 0, 0], truth)),
          "seasonal naive (1 week)": (float(np.mean((naive - truth) ** 2)), smape(naive, truth))}
for name, (mse, sm) in scores.items():
    print(f"{name}: test MSE {mse:.0f}, sMAPE {sm:.2f}%")
