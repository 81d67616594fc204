#!/usr/bin/env python3
"""ETTh1 under the standard long-horizon protocol (issue 13, must-show 1): our DLinear,
PatchTST and TCN against the published figures, and training time against the same model
in PyTorch.

Protocol (Informer / DLinear / PatchTST): ETTh1's 7 variables, train / val / test = the
first 12 / next 4 / next 4 months (rows [0, 8640), [8640, 11520), [11520, 14400); val and
test windows start 336 rows earlier so that their first forecast is the split's first
row), z-score with the training rows' mean and std, look-back 336, horizons 96 / 192 / 336
/ 720, MSE and MAE over every test window on the normalised data. Each model trains as
its paper does (RECIPES; --epochs / --patience / --lr override), with early stopping on
the validation loss (best weights kept). (The papers' test loader drops the last
incomplete batch; we score every window.)

Timing (--time-model): both frameworks train --time-epochs epochs of the recipe's batch on
the 96-step task, the same threads (--threads), no validation; PyTorch is Debian's 1.13
with the same network (tests/golden/gen_golden.py's reference). Run with the test venv's
Python:

  ~/.cache/bigdl-cpp/venv/test/bin/python benchmarks/chronos/etth1.py --model patchtst --epochs 20 --patience 5
"""
import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "build", "python"))

PUBLISHED = {  # PatchTST paper (Nie et al., ICLR 2023), Table 3, ETTh1 MSE / MAE
    "DLinear": {96: (0.375, 0.399), 192: (0.405, 0.416), 336: (0.439, 0.443), 720: (0.472, 0.490)},
    "PatchTST/64": {96: (0.370, 0.400), 192: (0.413, 0.429), 336: (0.422, 0.440), 720: (0.447, 0.468)},
}
LOOKBACK = 336  # --lookback (512: PatchTST/64's setting)


def borders():
    """Rows of train / val / test; val and test start LOOKBACK rows early (their first
    forecast is the split's first row)."""
    return [(0, 8640), (8640 - LOOKBACK, 11520), (11520 - LOOKBACK, 14400)]


def splits(horizon):
    import pandas as pd
    from sklearn.preprocessing import StandardScaler

    from bigdl_cpp.chronos.data import TSDataset, _shared_data

    df = pd.read_csv(os.path.join(_shared_data(), "timeseries", "ett", "ETTh1.csv"))
    cols = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
    scaler = StandardScaler()
    out = []
    for i, (a, b) in enumerate(borders()):
        ts = TSDataset.from_pandas(df.iloc[a:b], dt_col="date", target_col=cols)
        ts.scale(scaler, fit=(i == 0)).roll(lookback=LOOKBACK, horizon=horizon)
        out.append(ts.to_numpy())
    return out


# Each model trained as its paper does (--epochs / --patience / --lr override).
RECIPES = {
    # DLinear: Adam lr 0.005 halved after every epoch, batch 32, at most 10 epochs, patience 3.
    "dlinear": dict(batch=32, lr=0.005, epochs=10, patience=3, decay=lambda lr, e: lr * 0.5 ** e),
    # PatchTST/42 (look-back 336; the paper's ETTh1 sizes, the forecaster's defaults): Adam
    # lr 1e-4 for 3 epochs, then times 0.9 per epoch ("type3"), batch 128, 100 epochs.
    "patchtst": dict(batch=128, lr=1e-4, epochs=100, patience=100, decay=lambda lr, e: lr * 0.9 ** max(0, e - 2)),
    # TCN with BigDL Chronos' defaults (3 levels of 16 channels, kernel 3, dropout 0.1, lr 0.001).
    "tcn": dict(batch=32, lr=0.001, epochs=10, patience=3, decay=None),
}


def make(model, horizon, lr, seed):
    from bigdl_cpp.chronos import forecaster as fc

    if model == "dlinear":
        return fc.DLinearForecaster(LOOKBACK, horizon, 7, 7, kernel_size=25, lr=lr, seed=seed)
    if model == "patchtst":
        return fc.PatchTSTForecaster(LOOKBACK, horizon, 7, 7, lr=lr, seed=seed)
    return fc.TCNForecaster(LOOKBACK, horizon, 7, 7, lr=lr, seed=seed)


def ours(model, horizon, threads, seed=0, epochs=None, patience=None, lr=None):
    import bigdl_cpp

    r = RECIPES[model]
    lr = lr or r["lr"]
    bigdl_cpp.set_num_threads(threads)
    (x, y), val, test = splits(horizon)
    f = make(model, horizon, lr, seed)
    decay = r["decay"]
    t0 = time.perf_counter()
    hist = f.fit((x, y), validation_data=val, epochs=epochs or r["epochs"], batch_size=r["batch"],
                 earlystop_patience=patience or r["patience"], seed=42 + seed,
                 lr_schedule=None if decay is None else (lambda e: decay(lr, e)), verbose=1)
    secs = time.perf_counter() - t0
    scores = f.evaluate(test)
    return scores["mse"], scores["mae"], len(hist["loss"]), secs


def time_ours(model, x, y, epochs, threads):
    import bigdl_cpp

    bigdl_cpp.set_num_threads(threads)
    r = RECIPES[model]
    f = make(model, y.shape[1], r["lr"], 0)
    t0 = time.perf_counter()
    f.fit((x, y), epochs=epochs, batch_size=r["batch"])
    return time.perf_counter() - t0


def time_torch(model, x, y, epochs, threads):
    import torch

    sys.path.insert(0, os.path.join(ROOT, "tests", "golden"))
    from gen_golden import DLinear, PatchTST

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    r = RECIPES[model]
    if model == "dlinear":
        m = DLinear(LOOKBACK, y.shape[1], 25)
    elif model == "patchtst":
        m = PatchTST(LOOKBACK, y.shape[1], 7, 7, patch_len=16, stride=8, d_model=16, heads=4, d_ff=128, layers=3,
                     dropout=0.3)
    else:
        raise SystemExit("--time-model: dlinear or patchtst")
    opt = torch.optim.Adam(m.parameters(), lr=r["lr"])
    xt, yt = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y))
    g = torch.Generator().manual_seed(0)
    m.train()
    t0 = time.perf_counter()
    for _ in range(epochs):
        for idx in torch.randperm(len(xt), generator=g).split(r["batch"]):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(m(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="dlinear", choices=sorted(RECIPES))
    ap.add_argument("--horizons", default="96,192,336,720")
    ap.add_argument("--epochs", type=int, help="at most this many epochs (default: the recipe's)")
    ap.add_argument("--patience", type=int, help="early-stopping patience (default: the recipe's)")
    ap.add_argument("--lr", type=float, help="initial lr (default: the recipe's)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--time-model", default="dlinear", choices=["dlinear", "patchtst", "none"])
    ap.add_argument("--time-epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0, help="initial weights and shuffling")
    ap.add_argument("--lookback", type=int, default=336, help="336 (the protocol) or 512 (PatchTST/64's)")
    args = ap.parse_args()
    global LOOKBACK
    LOOKBACK = args.lookback
    patches = (LOOKBACK - 16) // 8 + 2
    name = {"dlinear": "DLinear", "patchtst": f"PatchTST/{patches}", "tcn": "TCN"}[args.model]
    if args.horizons:
        print(f"| horizon | our {name} MSE | MAE | published DLinear MSE | published PatchTST/64 MSE | "
              "ours / PatchTST/64 | epochs run | train s |")
        print("|---|---|---|---|---|---|---|---|")
    for h in [int(v) for v in args.horizons.split(",") if v]:
        mse, mae, ran, secs = ours(args.model, h, args.threads, args.seed, args.epochs, args.patience, args.lr)
        pt = PUBLISHED["PatchTST/64"][h][0]
        print(f"| {h} | {mse:.4f} | {mae:.4f} | {PUBLISHED['DLinear'][h][0]:.3f} | {pt:.3f} | {mse / pt:.3f} | "
              f"{ran} | {secs:.1f} |", flush=True)
    if args.time_model == "none":
        return
    (x, y), _, _ = splits(96)
    m = args.time_model
    t_ours, t_torch = time_ours(m, x, y, args.time_epochs, args.threads), time_torch(m, x, y, args.time_epochs,
                                                                                      args.threads)
    print(f"\nTraining time, {m} 336 -> 96, {len(x)} windows x 7 channels, batch {RECIPES[m]['batch']}, "
          f"{args.time_epochs} epochs, {args.threads} threads:\n")
    print("| framework | s | PyTorch / ours |")
    print("|---|---|---|")
    print(f"| bigdl-cpp | {t_ours:.2f} | {t_torch / t_ours:.2f} |")
    print(f"| PyTorch 1.13 (Debian) | {t_torch:.2f} | 1.00 |")


if __name__ == "__main__":
    main()
