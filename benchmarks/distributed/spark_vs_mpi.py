#!/usr/bin/env python3
"""The same data-parallel job on Spark (barrier stage, Gloo), under mpirun (MPI) and in one
process: time per training step, side by side (issue 12, must-show 3).

The job: an MLP (784-H-H-10) on the first --rows Fashion-MNIST training images (Debian's
dataset-fashion-mnist), global batch --batch, --epochs epochs, Adam, seed 42 — through
bigdl_cpp.orca's Estimator in each mode, so the three runs compute the same steps (and
end with the same weights, printed as a check).

  one process  Estimator.fit on NumPy arrays, all cores (BIGDL_NUM_THREADS = --ranks)
  mpirun       init_orca_context("mpi"): --ranks processes by tests/dist/mpirun.sh,
               one thread each, each training its share of the rows over MPI (OpenMPI
               between processes of one host: shared memory; "TCP only": btl tcp,self,
               the transport it uses between hosts and the one Gloo uses here)
  Spark        a standalone master + --ranks workers of one core (LocalCluster), the
               data a DataFrame of --ranks partitions, Estimator.fit in one barrier stage
               over Gloo, one thread per task

Each mode runs --repeat times (fresh processes for one process and mpirun, fits on the
same warm cluster for Spark) and the table shows the median. "train s" is the time inside the trainer (Spark: rank 0's, without job scheduling and
data conversion, which "wall s" includes); per step = train s / steps. Run with the test
venv's Python (it has pyspark, pandas, pyarrow):

  ~/.cache/bigdl-cpp/venv/test/bin/python benchmarks/distributed/spark_vs_mpi.py
"""
import argparse
import json
import os
import pickle
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "build", "python"))  # the build tree's bigdl_cpp (scripts/build.sh)


def data(rows):
    from bigdl_cpp.dllib.datasets import fashion_mnist

    return fashion_mnist("train", flat=True, limit=rows)


def model(hidden):
    from bigdl_cpp.dllib.keras import optimizers
    from bigdl_cpp.dllib.keras.layers import Dense
    from bigdl_cpp.dllib.keras.models import Sequential

    m = Sequential()
    m.add(Dense(hidden, activation="relu", input_shape=(784,)))
    m.add(Dense(hidden, activation="relu"))
    m.add(Dense(10, activation="softmax"))
    m.compile(optimizers.Adam(lr=1e-3), "sparse_categorical_crossentropy", ["accuracy"])
    return m


def checksum(m):
    return float(sum(np.abs(w).sum() for w in m.get_weights()))


def worker(args):
    """One process, or one rank under mpirun: prints a JSON line (rank 0)."""
    from bigdl_cpp.orca import init_orca_context
    from bigdl_cpp.orca.learn.estimator import Estimator

    init_orca_context("mpi" if args.worker == "mpi" else "local")
    x, y = data(args.rows)
    est = Estimator.from_keras(model(args.hidden))
    t0 = time.perf_counter()
    hist = est.fit((x, y), epochs=args.epochs, batch_size=args.batch, verbose=0)
    wall = time.perf_counter() - t0
    from bigdl_cpp._native import dist

    if args.worker == "local" or dist.world().rank == 0:
        print(json.dumps({"train_s": est.train_seconds, "wall_s": wall, "loss": hist["loss"][-1],
                          "checksum": checksum(est.get_model())}), flush=True)


def median_run(runs):
    """The run with the median training time, and every run's training time."""
    runs = sorted(runs, key=lambda r: r["train_s"])
    out = dict(runs[len(runs) // 2])
    out["all_train_s"] = [r["train_s"] for r in runs]
    return out


def run_worker(mode, args, threads, ranks=1, extra_env=None):
    return median_run([run_worker_once(mode, args, threads, ranks, extra_env) for _ in range(args.repeat)])


def run_worker_once(mode, args, threads, ranks, extra_env):
    env = dict(os.environ, BIGDL_NUM_THREADS=str(threads), PYTHONPATH=os.path.join(ROOT, "build", "python"),
               **(extra_env or {}))
    cmd = [sys.executable, __file__, "--worker", mode] + [f"--{k}={getattr(args, k)}" for k in
                                                          ("rows", "epochs", "batch", "hidden")]
    if mode == "mpi":
        cmd = [os.path.join(ROOT, "tests", "dist", "mpirun.sh"), str(ranks)] + cmd
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        sys.exit(f"spark_vs_mpi: the {mode} run failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return json.loads(lines[-1])


def run_spark(args):
    from bigdl_cpp.orca import OrcaContext, init_orca_context, stop_orca_context
    from bigdl_cpp.orca.learn.estimator import Estimator
    from bigdl_cpp.orca.standalone import LocalCluster

    x, y = data(args.rows)
    os.environ.pop("BIGDL_NUM_THREADS", None)  # the tasks take spark.task.cpus threads
    with LocalCluster(workers=args.ranks, cores=1, memory="2g") as c:
        try:
            init_orca_context("standalone", master=c.master, cores=1, num_nodes=args.ranks, memory="2g")
            spark = OrcaContext.get_spark_session()
            parts = np.array_split(np.arange(args.rows), args.ranks)
            rows = [(x[i].tolist(), int(y[i])) for i in range(args.rows)]
            df = spark.sparkContext.parallelize([[rows[i] for i in p] for p in parts], args.ranks) \
                .flatMap(lambda part: part).toDF("image array<float>, label long").cache()
            df.count()
            init = pickle.dumps(model(args.hidden))
            runs = []
            for _ in range(args.repeat):
                est = Estimator.from_keras(pickle.loads(init))
                t0 = time.perf_counter()
                hist = est.fit(df, epochs=args.epochs, batch_size=args.batch, feature_cols=["image"],
                               label_cols=["label"], verbose=0)
                wall = time.perf_counter() - t0
                runs.append({"train_s": est.train_seconds, "wall_s": wall, "loss": hist["loss"][-1],
                             "checksum": checksum(est.get_model())})
            return median_run(runs)
        finally:
            stop_orca_context()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=12000)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each mode; the table shows the median")
    ap.add_argument("--worker", choices=["local", "mpi"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return
    steps = args.epochs * -(-args.rows // args.batch)
    res = {"one process": run_worker("local", args, args.ranks),
           "mpirun (MPI)": run_worker("mpi", args, 1, args.ranks),
           "mpirun (MPI), TCP only": run_worker("mpi", args, 1, args.ranks, {"OMPI_MCA_btl": "tcp,self"}),
           "Spark (Gloo)": run_spark(args)}
    mpi = res["mpirun (MPI)"]["train_s"]
    print(f"\nMLP 784-{args.hidden}-{args.hidden}-10, {args.rows} Fashion-MNIST rows, global batch {args.batch}, "
          f"{args.epochs} epochs = {steps} steps; {args.ranks} ranks x 1 thread (one process: {args.ranks} threads)\n")
    print(f"median of {args.repeat} runs each\n")
    print("| run | train s | per step ms | vs mpirun | all runs, train s | wall s | final loss | weight checksum |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in res.items():
        every = ", ".join(f"{t:.2f}" for t in r["all_train_s"])
        print(f"| {name} | {r['train_s']:.2f} | {1000 * r['train_s'] / steps:.1f} | {r['train_s'] / mpi:.2f} | "
              f"{every} | {r['wall_s']:.2f} | {r['loss']:.6f} | {r['checksum']:.6f} |")


if __name__ == "__main__":
    main()
