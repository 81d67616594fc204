"""Forecasters with BigDL Chronos' API (bigdl.chronos.forecaster): fit / predict /
evaluate / save / load / from_tsdataset on NumPy windows (TSDataset.roll) or a rolled
TSDataset. Trained by the C++ engine (include/bigdl/chronos/models.h, train::Model).

    from bigdl_cpp.chronos.forecaster import DLinearForecaster
    f = DLinearForecaster(past_seq_len=336, future_seq_len=96, input_feature_num=7, output_feature_num=7)
    f.fit((x, y), validation_data=(xv, yv), epochs=10, batch_size=32)
    f.evaluate((xt, yt))           # {"mse": ..., "mae": ...}
"""
import os
import tempfile

import numpy as np

from bigdl_cpp._native import chronos as _c
from bigdl_cpp._native import dllib as _d

__all__ = ["DLinearForecaster", "TCNForecaster", "LSTMForecaster", "PatchTSTForecaster", "NBeatsForecaster",
           "Seq2SeqForecaster"]


def _windows(data, what):
    from bigdl_cpp.chronos.data import TSDataset

    if isinstance(data, TSDataset):
        return data.to_numpy()
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return np.asarray(data[0]), np.asarray(data[1])
    if isinstance(data, np.ndarray):
        return data, None
    raise TypeError(f"{what}: expected (x, y) arrays or a rolled TSDataset, got {type(data).__name__}")


def _seed(seed):
    """Seeds the engine's generator (the initial weights) when seed is given."""
    if seed is not None:
        from bigdl_cpp._native import core

        core.manual_seed(int(seed))


def _quantiles(name, loss, quantiles, supported=True):
    """The sorted quantiles when loss is "quantile" (None otherwise)."""
    if loss != "quantile":
        return None
    if not supported:
        raise ValueError(f"{name}: loss='quantile' is not supported (TCN, LSTM and Seq2Seq forecasters offer it)")
    q = sorted(float(v) for v in quantiles)
    if not q or any(not 0 < v < 1 for v in q):
        raise ValueError(f"{name}: quantiles must be in (0, 1), got {list(quantiles)}")
    return tuple(q)


class _Forecaster:
    quantiles = None  # with loss="quantile": the forecast quantiles, sorted

    def _trainer(self):
        if self._t is None:
            loss = self.loss
            if self.quantiles:  # the pinball loss over the Q outputs of each value
                from bigdl_cpp._native import core

                loss = core.QuantileLoss(list(self.quantiles))
            self._t = _d.Trainer(self.net, self.optimizer, {"lr": float(self.lr)}, loss, [])
        return self._t

    def _q(self):
        return len(self.quantiles) if self.quantiles else 1

    def _check(self, x, y, what):
        if x.ndim != 3 or x.shape[1] != self.past_seq_len or x.shape[2] != self.input_feature_num:
            raise ValueError(f"{what}: x must be [n, past_seq_len={self.past_seq_len}, "
                             f"input_feature_num={self.input_feature_num}], got {list(x.shape)}")
        if y is not None and (y.ndim != 3 or y.shape[1:] != (self.future_seq_len, self.output_feature_num)):
            raise ValueError(f"{what}: y must be [n, future_seq_len={self.future_seq_len}, "
                             f"output_feature_num={self.output_feature_num}], got {list(y.shape)}")

    def fit(self, data, validation_data=None, epochs=1, batch_size=32, earlystop_patience=None, lr_decay=None,
            verbose=0, seed=42, lr_schedule=None, log_dir=None):
        """Trains on (x, y) windows. With validation_data and earlystop_patience, stops after
        that many epochs without a lower validation loss and keeps the best weights.
        lr_decay: the lr is multiplied by it after each epoch (DLinear's paper: 0.5).
        lr_schedule: a function of the epoch (from 0) giving its lr (PatchTST's paper: lr for
        3 epochs, then times 0.9 per epoch); not with lr_decay.
        log_dir: TensorBoard curves (loss, val_loss, lr per epoch) under log_dir/train and
        log_dir/validation."""
        x, y = _windows(data, "fit")
        self._check(x, y, "fit")
        vx = vy = None
        if validation_data is not None:
            vx, vy = _windows(validation_data, "fit validation_data")
            self._check(vx, vy, "fit validation_data")
        cbs = []
        if earlystop_patience is not None:
            if vx is None:
                raise ValueError("fit: earlystop_patience needs validation_data")
            cbs.append(_d.EarlyStopping("val_loss", int(earlystop_patience), 0.0, "min", True))
        if lr_decay is not None and lr_schedule is not None:
            raise ValueError("fit: give lr_decay or lr_schedule, not both")
        if lr_decay is not None:
            base, decay = float(self.lr), float(lr_decay)
            cbs.append(_d.LearningRateScheduler(lambda epoch, lr: base * decay ** epoch))
        if lr_schedule is not None:
            if not callable(lr_schedule):
                raise TypeError("fit: lr_schedule must be a function of the epoch")
            cbs.append(_d.LearningRateScheduler(lambda epoch, lr: float(lr_schedule(epoch))))
        logs = self._trainer().fit(np.ascontiguousarray(x, np.float32), np.ascontiguousarray(y, np.float32),
                                   int(batch_size), int(epochs),
                                   None if vx is None else np.ascontiguousarray(vx, np.float32),
                                   None if vy is None else np.ascontiguousarray(vy, np.float32),
                                   True, int(seed), cbs, int(verbose), str(log_dir or ""), 0, "", 0, "")
        return {k: [e.get(k) for e in logs] for k in sorted({k for e in logs for k in e})}

    def predict(self, data, batch_size=256):
        """Forecasts [n, H, C_out]; with loss="quantile" the quantile nearest 0.5."""
        out = self._raw_predict(data, batch_size, "predict")
        if self.quantiles:
            return np.ascontiguousarray(out[..., int(np.argmin([abs(q - 0.5) for q in self.quantiles]))])
        return out

    def predict_quantiles(self, data, batch_size=256):
        """With loss="quantile": forecasts [n, H, C_out, Q] of the quantiles (sorted)."""
        if not self.quantiles:
            raise ValueError("predict_quantiles: the forecaster was not built with loss='quantile'")
        return self._raw_predict(data, batch_size, "predict_quantiles")

    def _raw_predict(self, data, batch_size, what):
        x, _ = _windows(data, what)
        self._check(x, None, what)
        return self._trainer().predict(np.ascontiguousarray(x, np.float32), int(batch_size))

    def predict_interval(self, data, validation_data=None, alpha=0.1, batch_size=256):
        """Forecasts with prediction intervals: (forecast, lower, upper), each [n, H, C_out].
        With validation_data, split conformal prediction: the half-width of each step and
        channel is the ceil((m + 1)(1 - alpha)) / m quantile of the absolute errors on the m
        validation windows, so a new window's value falls inside with probability >= 1 -
        alpha when validation and new data are exchangeable (for any model; no
        retraining). Without it, a loss="quantile" forecaster's lowest and highest
        quantiles are the band (alpha is then theirs, not this argument's)."""
        if validation_data is None:
            if not self.quantiles:
                raise ValueError("predict_interval: give validation_data (or build the forecaster with "
                                 "loss='quantile')")
            q = self.predict_quantiles(data, batch_size)
            return self.predict(data, batch_size), np.ascontiguousarray(q[..., 0]), np.ascontiguousarray(q[..., -1])
        if not 0 < alpha < 1:
            raise ValueError(f"predict_interval: alpha must be in (0, 1), got {alpha}")
        vx, vy = _windows(validation_data, "predict_interval validation_data")
        self._check(vx, vy, "predict_interval validation_data")
        residuals = np.abs(self.predict(vx, batch_size) - vy)
        m = len(residuals)
        level = min(1.0, np.ceil((m + 1) * (1 - alpha)) / m)
        half = np.quantile(residuals, level, axis=0, method="higher").astype(np.float32)
        pred = self.predict(data, batch_size)
        return pred, pred - half, pred + half

    def evaluate(self, data, batch_size=256, metrics=("mse", "mae"), multioutput="uniform_average"):
        """Metrics of predict(x) against y: mse, mae, rmse, smape (percent), r2; averaged over
        everything ("uniform_average") or per output step and feature ("raw_values")."""
        x, y = _windows(data, "evaluate")
        self._check(x, y, "evaluate")
        return self.metrics(self.predict(x, batch_size), y, metrics, multioutput)

    @staticmethod
    def metrics(pred, y, metrics=("mse", "mae"), multioutput="uniform_average"):
        """The metrics of forecasts `pred` against `y` (same shape)."""
        p, y = np.asarray(pred, np.float64), np.asarray(y, np.float64)
        if p.shape != y.shape:
            raise ValueError(f"evaluate: forecasts {list(p.shape)} and targets {list(y.shape)} differ in shape")
        axis = None if multioutput == "uniform_average" else 0
        out = {}
        for m in metrics:
            if m == "mse":
                out[m] = np.mean((p - y) ** 2, axis=axis)
            elif m == "mae":
                out[m] = np.mean(np.abs(p - y), axis=axis)
            elif m == "rmse":
                out[m] = np.sqrt(np.mean((p - y) ** 2, axis=axis))
            elif m == "smape":
                out[m] = 100 * np.mean(2 * np.abs(p - y) / np.maximum(np.abs(p) + np.abs(y), 1e-12), axis=axis)
            elif m == "r2":
                out[m] = 1 - np.sum((p - y) ** 2, axis=axis) / np.sum((y - y.mean(axis=0)) ** 2, axis=axis)
            else:
                raise ValueError(f"evaluate: unknown metric '{m}' (mse, mae, rmse, smape, r2)")
        return {k: float(v) if np.ndim(v) == 0 else v for k, v in out.items()}

    def save(self, path):
        """Weights and configuration in one .npz file, written atomically."""
        path = os.path.abspath(path)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-", suffix=".npz")
        os.close(fd)
        try:
            np.savez(tmp, __config__=np.array(repr(self._config())), **self.net.state_dict())
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise

    def load(self, path):
        with np.load(path) as f:
            self.net.load_state_dict({k: f[k] for k in f.files if k != "__config__"}, True)
        return self

    @classmethod
    def from_tsdataset(cls, tsdataset, past_seq_len=None, future_seq_len=None, **kwargs):
        """Sizes from a rolled TSDataset: lookback, horizon, features and targets."""
        x, y = tsdataset.to_numpy()
        return cls(past_seq_len=past_seq_len or x.shape[1], future_seq_len=future_seq_len or y.shape[1],
                   input_feature_num=x.shape[2], output_feature_num=y.shape[2], **kwargs)


class DLinearForecaster(_Forecaster):
    """DLinear (include/bigdl/chronos/models.h): trend / seasonal decomposition and one
    Linear along time each, weights shared by the channels. The outputs are the first
    output_feature_num channels (TSDataset puts the targets first)."""

    def __init__(self, past_seq_len, future_seq_len, input_feature_num, output_feature_num, kernel_size=25,
                 individual=False, optimizer="adam", loss="mse", lr=0.005, seed=None):
        if individual:
            raise ValueError("DLinearForecaster: individual=True (weights per channel) is not supported")
        if output_feature_num > input_feature_num:
            raise ValueError("DLinearForecaster: output_feature_num exceeds input_feature_num")
        _quantiles("DLinearForecaster", loss, (), supported=False)
        _seed(seed)
        self.past_seq_len, self.future_seq_len = int(past_seq_len), int(future_seq_len)
        self.input_feature_num, self.output_feature_num = int(input_feature_num), int(output_feature_num)
        self.kernel_size, self.optimizer, self.loss, self.lr = int(kernel_size), optimizer, loss, lr
        outputs = 0 if self.output_feature_num == self.input_feature_num else self.output_feature_num
        self.net = _c.DLinear(self.past_seq_len, self.future_seq_len, self.kernel_size, outputs)
        self._t = None

    def _config(self):
        return dict(past_seq_len=self.past_seq_len, future_seq_len=self.future_seq_len,
                    input_feature_num=self.input_feature_num, output_feature_num=self.output_feature_num,
                    kernel_size=self.kernel_size)


class TCNForecaster(_Forecaster):
    """Temporal convolutional network (include/bigdl/chronos/models.h: weight-normalised
    dilated causal convolutions with dilations 1, 2, 4, ..., BigDL's defaults of 3 levels
    of 16 channels, kernel 3, dropout 0.1), then Linear along time and across channels.
    normalization: BigDL's trick, the window's last row subtracted and added back."""

    def __init__(self, past_seq_len, future_seq_len, input_feature_num, output_feature_num, num_channels=(16, 16, 16),
                 kernel_size=3, normalization=True, dropout=0.1, optimizer="adam", loss="mse", lr=0.001, seed=None,
                 quantiles=(0.1, 0.5, 0.9)):
        self.quantiles = _quantiles("TCNForecaster", loss, quantiles)
        _seed(seed)
        self.past_seq_len, self.future_seq_len = int(past_seq_len), int(future_seq_len)
        self.input_feature_num, self.output_feature_num = int(input_feature_num), int(output_feature_num)
        self.num_channels, self.kernel_size = [int(c) for c in num_channels], int(kernel_size)
        self.normalization, self.dropout = bool(normalization), float(dropout)
        self.optimizer, self.loss, self.lr = optimizer, loss, lr
        self.net = _c.TCN(self.past_seq_len, self.future_seq_len, self.input_feature_num, self.output_feature_num,
                          self.num_channels, self.kernel_size, self.dropout, self.normalization, self._q())
        self._t = None

    def _config(self):
        return dict(past_seq_len=self.past_seq_len, future_seq_len=self.future_seq_len,
                    input_feature_num=self.input_feature_num, output_feature_num=self.output_feature_num,
                    num_channels=self.num_channels, kernel_size=self.kernel_size, normalization=self.normalization,
                    dropout=self.dropout, quantiles=self.quantiles)


class LSTMForecaster(_Forecaster):
    """An LSTM over the window, its last step through dropout and a Linear to the forecast
    (include/bigdl/chronos/models.h LSTMModel; BigDL's defaults: hidden 32, 1 layer,
    dropout 0.1, normalization on, lr 0.001)."""

    def __init__(self, past_seq_len, input_feature_num, output_feature_num, future_seq_len=1, hidden_dim=32,
                 layer_num=1, dropout=0.1, normalization=True, optimizer="adam", loss="mse", lr=0.001, seed=None,
                 quantiles=(0.1, 0.5, 0.9)):
        self.quantiles = _quantiles("LSTMForecaster", loss, quantiles)
        _seed(seed)
        self.past_seq_len, self.future_seq_len = int(past_seq_len), int(future_seq_len)
        self.input_feature_num, self.output_feature_num = int(input_feature_num), int(output_feature_num)
        self.hidden_dim, self.layer_num, self.dropout = int(hidden_dim), int(layer_num), float(dropout)
        self.normalization, self.optimizer, self.loss, self.lr = bool(normalization), optimizer, loss, lr
        self.net = _c.LSTMModel(self.past_seq_len, self.future_seq_len, self.input_feature_num, self.output_feature_num,
                                self.hidden_dim, self.layer_num, self.dropout, self.normalization, self._q())
        self._t = None

    def _config(self):
        return dict(past_seq_len=self.past_seq_len, future_seq_len=self.future_seq_len,
                    input_feature_num=self.input_feature_num, output_feature_num=self.output_feature_num,
                    hidden_dim=self.hidden_dim, layer_num=self.layer_num, dropout=self.dropout,
                    normalization=self.normalization, quantiles=self.quantiles)


class PatchTSTForecaster(_Forecaster):
    """PatchTST (include/bigdl/chronos/models.h): RevIN, the window cut into patches of
    patch_len steps every stride steps, a Transformer encoder over the patches of each
    channel on its own (channel independence, BatchNorm, residual attention), a linear
    head. Defaults: the paper's sizes for ETTh1 (patch 16, stride 8, d_model 16, 4 heads,
    d_ff 128, 3 layers, dropout 0.3). The outputs are the first output_feature_num channels."""

    def __init__(self, past_seq_len, future_seq_len, input_feature_num, output_feature_num, patch_len=16, stride=8,
                 d_model=16, n_heads=4, d_ff=128, e_layers=3, dropout=0.3, head_dropout=0.0, revin=True,
                 res_attention=True, norm="batch", optimizer="adam", loss="mse", lr=0.0001, seed=None):
        _quantiles("PatchTSTForecaster", loss, (), supported=False)
        _seed(seed)
        self.past_seq_len, self.future_seq_len = int(past_seq_len), int(future_seq_len)
        self.input_feature_num, self.output_feature_num = int(input_feature_num), int(output_feature_num)
        self.arch = dict(patch_len=int(patch_len), stride=int(stride), d_model=int(d_model), n_heads=int(n_heads),
                         d_ff=int(d_ff), e_layers=int(e_layers), dropout=float(dropout),
                         head_dropout=float(head_dropout), revin=bool(revin), res_attention=bool(res_attention),
                         norm=str(norm))
        self.optimizer, self.loss, self.lr = optimizer, loss, lr
        a = self.arch
        self.net = _c.PatchTST(self.past_seq_len, self.future_seq_len, self.input_feature_num, self.output_feature_num,
                               a["patch_len"], a["stride"], a["d_model"], a["n_heads"], a["d_ff"], a["e_layers"],
                               a["dropout"], a["head_dropout"], a["revin"], a["res_attention"], a["norm"])
        self._t = None

    def _config(self):
        return dict(past_seq_len=self.past_seq_len, future_seq_len=self.future_seq_len,
                    input_feature_num=self.input_feature_num, output_feature_num=self.output_feature_num, **self.arch)


class NBeatsForecaster(_Forecaster):
    """N-BEATS (include/bigdl/chronos/models.h NBeats; BigDL's defaults: two generic stacks
    of 3 blocks, thetas_dim (4, 8), 256 hidden units, dropout 0.1, lr 0.001). Stack types
    "generic", "trend", "seasonality" (nb_harmonics: its Fourier harmonics). Univariate as
    BigDL's; with several input channels each is forecast on its own by the same network and
    the first output_feature_num are returned."""

    def __init__(self, past_seq_len, future_seq_len, stack_types=("generic", "generic"), nb_blocks_per_stack=3,
                 thetas_dim=(4, 8), share_weights_in_stack=False, hidden_layer_units=256, nb_harmonics=None,
                 dropout=0.1, input_feature_num=1, output_feature_num=1, optimizer="adam", loss="mse", lr=0.001,
                 seed=None):
        _quantiles("NBeatsForecaster", loss, (), supported=False)
        _seed(seed)
        self.past_seq_len, self.future_seq_len = int(past_seq_len), int(future_seq_len)
        self.input_feature_num, self.output_feature_num = int(input_feature_num), int(output_feature_num)
        self.arch = dict(stack_types=[str(t) for t in stack_types], nb_blocks_per_stack=int(nb_blocks_per_stack),
                         thetas_dim=[int(t) for t in thetas_dim], share_weights_in_stack=bool(share_weights_in_stack),
                         hidden_layer_units=int(hidden_layer_units), nb_harmonics=int(nb_harmonics or 0),
                         dropout=float(dropout))
        self.optimizer, self.loss, self.lr = optimizer, loss, lr
        a = self.arch
        self.net = _c.NBeats(self.past_seq_len, self.future_seq_len, self.input_feature_num, self.output_feature_num,
                             a["stack_types"], a["nb_blocks_per_stack"], a["thetas_dim"], a["share_weights_in_stack"],
                             a["hidden_layer_units"], a["nb_harmonics"], a["dropout"])
        self._t = None

    def _config(self):
        return dict(past_seq_len=self.past_seq_len, future_seq_len=self.future_seq_len,
                    input_feature_num=self.input_feature_num, output_feature_num=self.output_feature_num, **self.arch)


class Seq2SeqForecaster(_Forecaster):
    """LSTM encoder-decoder (include/bigdl/chronos/models.h Seq2Seq; BigDL's defaults: hidden
    64, 2 layers, dropout 0.25, lr 0.001): the decoder starts from the encoder's states and
    is fed its own previous forecast. teacher_forcing is not supported."""

    def __init__(self, past_seq_len, future_seq_len, input_feature_num, output_feature_num, lstm_hidden_dim=64,
                 lstm_layer_num=2, teacher_forcing=False, dropout=0.25, optimizer="adam", loss="mse", lr=0.001,
                 seed=None, quantiles=(0.1, 0.5, 0.9)):
        self.quantiles = _quantiles("Seq2SeqForecaster", loss, quantiles)
        if teacher_forcing:
            raise ValueError("Seq2SeqForecaster: teacher_forcing=True is not supported")
        _seed(seed)
        self.past_seq_len, self.future_seq_len = int(past_seq_len), int(future_seq_len)
        self.input_feature_num, self.output_feature_num = int(input_feature_num), int(output_feature_num)
        self.lstm_hidden_dim, self.lstm_layer_num, self.dropout = int(lstm_hidden_dim), int(lstm_layer_num), float(dropout)
        self.optimizer, self.loss, self.lr = optimizer, loss, lr
        self.net = _c.Seq2Seq(self.past_seq_len, self.future_seq_len, self.input_feature_num, self.output_feature_num,
                              self.lstm_hidden_dim, self.lstm_layer_num, self.dropout, self._q())
        self._t = None

    def _config(self):
        return dict(past_seq_len=self.past_seq_len, future_seq_len=self.future_seq_len,
                    input_feature_num=self.input_feature_num, output_feature_num=self.output_feature_num,
                    lstm_hidden_dim=self.lstm_hidden_dim, lstm_layer_num=self.lstm_layer_num, dropout=self.dropout,
                    quantiles=self.quantiles)
