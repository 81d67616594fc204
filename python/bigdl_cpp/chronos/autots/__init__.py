"""AutoTSEstimator and TSPipeline (BigDL's bigdl.chronos.autots; docs/chronos.md).

    from bigdl_cpp.chronos.autots import AutoTSEstimator
    from bigdl_cpp.orca.automl import hp
    est = AutoTSEstimator(model="tcn", past_seq_len=hp.choice([48, 100, 168]), future_seq_len=1)
    # model: "tcn", "lstm", "seq2seq", "nbeats", "patchtst" or "dlinear"
    pipeline = est.fit(data=train, validation_data=val, epochs=3, n_sampling=8)
    pipeline.predict(test)            # forecasts in the data's units
    pipeline.evaluate(test, metrics=["mse", "smape"])

The search is Optuna's TPE sampler (seeded), asked for `n_parallel` configurations at a
time; each trains in a process of its own (`python -m bigdl_cpp.chronos.autots.worker`,
one engine thread) on the windows the parent rolled, or, after init_orca_context, as a
Spark task of its own (backend="auto" | "spark" | "processes"; a wave is then at least
the cluster's default parallelism), with early stopping on the
validation split, and reports the validation metric. Every trial is one line in the log and a row of
<logs_dir>/trials.csv (config, metric, seconds); the pipeline holds the best trial's
trained model and look-back.
"""
import csv
import os
import pickle
import subprocess
import sys
import tempfile
import time

import numpy as np

from bigdl_cpp.orca.automl import hp

__all__ = ["AutoTSEstimator", "TSPipeline"]

MODELS = ("tcn", "lstm", "seq2seq", "nbeats", "patchtst", "dlinear")


def default_space(model):
    if model == "tcn":
        return {"levels": hp.choice([2, 3, 4]), "hidden": hp.choice([16, 32]), "kernel_size": hp.choice([3, 5]),
                "dropout": hp.uniform(0.0, 0.3), "lr": hp.loguniform(1e-4, 1e-2)}
    if model == "lstm":
        return {"hidden_dim": hp.choice([16, 32, 64]), "layer_num": hp.choice([1, 2]), "dropout": hp.uniform(0.0, 0.3),
                "lr": hp.loguniform(1e-4, 1e-2)}
    if model == "seq2seq":
        return {"lstm_hidden_dim": hp.choice([16, 32, 64]), "lstm_layer_num": hp.choice([1, 2]),
                "dropout": hp.uniform(0.0, 0.3), "lr": hp.loguniform(1e-4, 1e-2)}
    if model == "nbeats":
        return {"hidden_layer_units": hp.choice([64, 128, 256]), "nb_blocks_per_stack": hp.choice([2, 3]),
                "dropout": hp.uniform(0.0, 0.3), "lr": hp.loguniform(1e-4, 1e-2)}
    if model == "patchtst":
        return {"d_model": hp.choice([16, 32]), "e_layers": hp.choice([2, 3]), "patch_len": hp.choice([8, 16]),
                "dropout": hp.uniform(0.0, 0.3), "lr": hp.loguniform(1e-4, 1e-2)}
    return {"kernel_size": hp.choice([13, 25, 49]), "lr": hp.loguniform(1e-4, 1e-2)}


def make_forecaster(model, config, lookback, horizon, features, targets):
    from bigdl_cpp.chronos.forecaster import (DLinearForecaster, LSTMForecaster, NBeatsForecaster,
                                              PatchTSTForecaster, Seq2SeqForecaster, TCNForecaster)

    seed = int(config.get("seed", 0))
    if model == "seq2seq":
        return Seq2SeqForecaster(lookback, horizon, features, targets,
                                 lstm_hidden_dim=int(config.get("lstm_hidden_dim", 64)),
                                 lstm_layer_num=int(config.get("lstm_layer_num", 2)),
                                 dropout=float(config.get("dropout", 0.25)), lr=float(config.get("lr", 1e-3)), seed=seed)
    if model == "nbeats":
        return NBeatsForecaster(lookback, horizon, input_feature_num=features, output_feature_num=targets,
                                hidden_layer_units=int(config.get("hidden_layer_units", 256)),
                                nb_blocks_per_stack=int(config.get("nb_blocks_per_stack", 3)),
                                dropout=float(config.get("dropout", 0.1)), lr=float(config.get("lr", 1e-3)), seed=seed)
    if model == "patchtst":
        patch = min(int(config.get("patch_len", 16)), lookback)
        return PatchTSTForecaster(lookback, horizon, features, targets, patch_len=patch, stride=max(1, patch // 2),
                                  d_model=int(config.get("d_model", 16)), e_layers=int(config.get("e_layers", 3)),
                                  dropout=float(config.get("dropout", 0.3)), lr=float(config.get("lr", 1e-4)), seed=seed)

    if model == "tcn":
        return TCNForecaster(lookback, horizon, features, targets,
                             num_channels=[int(config.get("hidden", 16))] * int(config.get("levels", 3)),
                             kernel_size=int(config.get("kernel_size", 3)), dropout=float(config.get("dropout", 0.1)),
                             lr=float(config.get("lr", 1e-3)), seed=seed)
    if model == "lstm":
        return LSTMForecaster(lookback, features, targets, future_seq_len=horizon,
                              hidden_dim=int(config.get("hidden_dim", 32)), layer_num=int(config.get("layer_num", 1)),
                              dropout=float(config.get("dropout", 0.1)), lr=float(config.get("lr", 1e-3)),
                              seed=seed)
    return DLinearForecaster(lookback, horizon, features, targets, kernel_size=int(config.get("kernel_size", 25)),
                             lr=float(config.get("lr", 5e-3)), seed=seed)


def run_trial(args):
    """In a worker process: train one configuration, return (val metric, weights, seconds)."""
    model, config, lookback, horizon, data, val, epochs, batch_size, metric = args
    import bigdl_cpp

    bigdl_cpp.set_num_threads(1)
    t0 = time.perf_counter()
    f = make_forecaster(model, config, lookback, horizon, data[0].shape[2], data[1].shape[2])
    f.fit(data, validation_data=val, epochs=epochs, batch_size=batch_size, earlystop_patience=2)
    score = f.evaluate(val, metrics=(metric,))[metric]
    return float(score), f.net.state_dict(), time.perf_counter() - t0


class _Trial:
    """A running worker process for one trial."""

    def __init__(self, args):
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
        self.proc = subprocess.Popen([sys.executable, "-m", "bigdl_cpp.chronos.autots.worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env)
        self.args = pickle.dumps(args)

    def result(self):
        out, _ = self.proc.communicate(self.args)
        if self.proc.returncode != 0 or not out:
            raise RuntimeError(f"AutoTSEstimator: a trial process exited with code {self.proc.returncode}")
        status, value = pickle.loads(out)
        if status != "ok":
            raise RuntimeError(f"AutoTSEstimator: a trial failed: {value}")
        return value


def _spark_trials(blobs):
    """A Spark task's body: the trials of its partition, each a pickled run_trial argument
    (one engine thread, as in a trial process)."""
    for blob in blobs:
        yield pickle.dumps(run_trial(pickle.loads(blob)))


def _run_on_spark(arg_list):
    """One Spark job running each trial as a task (partition) of its own; task errors come
    back as the same one-line error."""
    from bigdl_cpp.orca import OrcaContext
    from bigdl_cpp.orca._spark import _in_task, rethrow_task_error

    sc = OrcaContext.get_spark_context()
    sc.setJobGroup("bigdl-autots", f"AutoTSEstimator: {len(arg_list)} trials")
    try:
        rdd = sc.parallelize([pickle.dumps(a) for a in arg_list], len(arg_list))
        return [pickle.loads(b) for b in rdd.mapPartitions(_in_task(_spark_trials)).collect()]
    except Exception as e:  # noqa: BLE001 - a task's error, rethrown as itself
        rethrow_task_error(e)


class TSPipeline:
    """The best trial's forecaster with its look-back: predict / evaluate on a TSDataset in
    the data's units (the data set scaled as the training data was)."""

    def __init__(self, forecaster, lookback, horizon, config):
        self.forecaster, self.lookback, self.horizon, self.config = forecaster, lookback, horizon, config

    def _windows(self, data):
        data.roll(lookback=self.lookback, horizon=self.horizon)
        return data.to_numpy()

    def predict(self, data, batch_size=256):
        x, _ = self._windows(data)
        pred = self.forecaster.predict(x, batch_size)
        return data.unscale_numpy(pred) if data._scaler is not None else pred

    def evaluate(self, data, metrics=("mse",), batch_size=256):
        x, y = self._windows(data)
        p = self.forecaster.predict(x, batch_size)
        if data._scaler is not None:
            p, y = data.unscale_numpy(p), data.unscale_numpy(y)
        from bigdl_cpp.chronos.forecaster import _Forecaster

        return _Forecaster.metrics(p, y, metrics)


class AutoTSEstimator:
    def __init__(self, model="tcn", search_space=None, past_seq_len=100, future_seq_len=1, metric="mse",
                 metric_mode="min", logs_dir=None, n_parallel=2, seed=0, name="autots_estimator", backend="auto"):
        if model not in MODELS:
            raise ValueError(f"AutoTSEstimator: model must be one of {', '.join(MODELS)}, got '{model}'")
        if metric not in ("mse", "mae", "rmse", "smape"):
            raise ValueError(f"AutoTSEstimator: metric must be mse, mae, rmse or smape, got '{metric}'")
        if metric_mode != "min":
            raise ValueError("AutoTSEstimator: metric_mode must be 'min' for error metrics")
        if not isinstance(future_seq_len, int) or future_seq_len < 1:
            raise ValueError(f"AutoTSEstimator: future_seq_len must be an int >= 1, got {future_seq_len!r}")
        self.model, self.metric = model, metric
        self.space = dict(default_space(model) if search_space is None else search_space)
        self.space.setdefault("past_seq_len", past_seq_len)
        self.future_seq_len = future_seq_len
        self.logs_dir = logs_dir or os.path.join(tempfile.gettempdir(), name)
        self.n_parallel, self.seed = max(1, int(n_parallel)), int(seed)
        if backend not in ("auto", "spark", "processes"):
            raise ValueError(f"AutoTSEstimator: backend must be 'auto', 'spark' or 'processes', got '{backend}'")
        self.backend = backend
        self.trials = []

    def _use_spark(self):
        from bigdl_cpp.orca import OrcaContext

        active = OrcaContext._spark is not None
        if self.backend == "spark" and not active:
            raise RuntimeError("AutoTSEstimator: backend='spark' needs init_orca_context first")
        return self.backend == "spark" or (self.backend == "auto" and active)

    def fit(self, data, validation_data=None, epochs=1, batch_size=32, n_sampling=1):
        """Searches n_sampling configurations; returns a TSPipeline with the best one."""
        import optuna

        if validation_data is None:
            raise ValueError("AutoTSEstimator.fit: validation_data is required (the trials are compared on it)")
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=self.seed))
        os.makedirs(self.logs_dir, exist_ok=True)
        self.trials, best = [], None
        done = 0
        spark = self._use_spark()
        parallel = self.n_parallel
        if spark:
            from bigdl_cpp.orca import OrcaContext

            parallel = max(parallel, OrcaContext.get_spark_context().defaultParallelism)
        while done < n_sampling:
            batch = [study.ask() for _ in range(min(parallel, n_sampling - done))]
            jobs = []
            for t in batch:
                config = hp.sample(self.space, t)
                lookback = int(config["past_seq_len"])
                jobs.append((t, config, lookback, (self.model, config, lookback, self.future_seq_len,
                                                   self._roll(data, lookback), self._roll(validation_data, lookback),
                                                   epochs, batch_size, self.metric)))
            # Trials in parallel: Spark tasks (with init_orca_context) or local processes.
            if spark:
                results = _run_on_spark([args for _, _, _, args in jobs])
            else:
                running = [_Trial(args) for _, _, _, args in jobs]
                results = [r.result() for r in running]
            for (t, config, lookback, _), (score, weights, secs) in zip(jobs, results):
                study.tell(t, score)
                row = {"trial": t.number, "model": self.model, **config, self.metric: score, "seconds": secs,
                       "backend": "spark" if spark else "process"}
                self.trials.append(row)
                print(f"[autots] trial {t.number}: {self.metric} {score:.5g} in {secs:.1f} s - "
                      + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in config.items()),
                      flush=True)
                if best is None or score < best[0]:
                    best = (score, config, lookback, weights)
            done += len(batch)
        self._write_csv()
        score, config, lookback, weights = best
        x, y = self._roll(data, lookback)
        f = make_forecaster(self.model, config, lookback, self.future_seq_len, x.shape[2], y.shape[2])
        f.net.load_state_dict(weights, True)
        return TSPipeline(f, lookback, self.future_seq_len, config)

    def _roll(self, data, lookback):
        data.roll(lookback=lookback, horizon=self.future_seq_len)
        x, y = data.to_numpy()
        return np.ascontiguousarray(x), np.ascontiguousarray(y)

    def _write_csv(self):
        keys = []
        for r in self.trials:
            keys += [k for k in r if k not in keys]
        path = os.path.join(self.logs_dir, "trials.csv")
        fd, tmp = tempfile.mkstemp(dir=self.logs_dir, prefix=".trials-")
        with os.fdopen(fd, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(self.trials)
        os.replace(tmp, path)
        self.trials_csv = path

    def get_best_config(self):
        if not self.trials:
            raise ValueError("AutoTSEstimator: call fit first")
        return min(self.trials, key=lambda r: r[self.metric])
