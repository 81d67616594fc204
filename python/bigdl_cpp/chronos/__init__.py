"""Chronos: time series (BigDL's bigdl.chronos; docs/chronos.md).

    from bigdl_cpp.chronos.data import TSDataset, get_public_dataset
    train, val, test = get_public_dataset("nyc_taxi")
    from sklearn.preprocessing import StandardScaler
    scaler = StandardScaler()
    for i, ts in enumerate([train, val, test]):
        ts.impute("last").scale(scaler, fit=(i == 0)).roll(lookback=100, horizon=1)
    x, y = train.to_numpy()        # x [n, 100, 1], y [n, 1, 1]: windows over one copy of the series

The data set is C++ (include/bigdl/chronos/tsdataset.h); forecasters and AutoML come
next (issue 13).
"""
