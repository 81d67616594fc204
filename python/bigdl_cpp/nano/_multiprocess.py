"""Nano's multi-process training on one machine: Keras fit(..., num_processes=N).

N worker processes (multiprocessing, spawn) each load the model, their contiguous 1/N of
the training rows (and of validation_data) and 1/N of the library's threads, join one
Gloo group (TCP on 127.0.0.1; the rendezvous is dist::file_exchange in a private
temporary directory) and run the engine's data-parallel fit over the group, whose result equals
one process on all parts in rank order: every global batch of batch_size rows is split
between the ranks and their gradients are reduce-scattered with BigDL's sharded update
(docs/distributed.md), so the weights equal one process's at the same global batch up to
the order of float sums.
Rank 0 prints progress and hands back the weights and the history.
"""
import os
import pickle
import shutil
import tempfile
import time
import traceback

import numpy as np


def _worker(rank, size, directory, blob, x, y, fit_kwargs, threads, timeout):
    try:
        import bigdl_cpp
        from bigdl_cpp._native import dist

        bigdl_cpp.set_num_threads(threads)
        model = pickle.loads(blob)
        group = dist.gloo_group_in_dir(rank, size, directory, timeout=float(timeout))
        kwargs = dict(fit_kwargs)
        if rank != 0:
            kwargs["verbose"] = 0
        history = model.fit(x, y, group=group, **kwargs)
        if rank == 0:
            path = os.path.join(directory, "result")
            with open(path + ".tmp", "wb") as f:
                pickle.dump((model.state_dict(), history.history, history.epoch), f)
            os.replace(path + ".tmp", path)
    except BaseException as e:  # noqa: BLE001 - reported to the parent, one line
        with open(os.path.join(directory, f"error_{rank}"), "w") as f:
            f.write(f"{type(e).__name__}: {e}".splitlines()[0] if str(e) else type(e).__name__)
            f.write("\n" + traceback.format_exc())
        raise SystemExit(1)


# The worker's exception types re-raised as such in the parent (others: RuntimeError).
_ERRORS = {e.__name__: e for e in (ValueError, TypeError, IndexError, KeyError, MemoryError, TimeoutError)}


def fit_processes(model, x, y, num_processes, fit_kwargs, timeout=120.0):
    """model.fit(x, y, **fit_kwargs) over num_processes local processes; loads the trained
    weights into model and returns (history dict, epochs)."""
    import multiprocessing

    import bigdl_cpp

    n = int(num_processes)
    if n < 1:
        raise ValueError(f"fit: num_processes must be >= 1, got {num_processes}")
    if fit_kwargs.get("callbacks"):
        raise ValueError("fit: callbacks run in the worker processes and cannot be given with num_processes > 1")
    blob = pickle.dumps(model)
    threads = max(1, bigdl_cpp.get_num_threads() // n)
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"fit: x has {len(x)} rows but y has {len(y)}")
    rows = np.array_split(np.arange(len(x)), n)  # contiguous, in rank order
    val = fit_kwargs.get("validation_data")
    val_rows = None if val is None else np.array_split(np.arange(len(val[0])), n)

    def kwargs_of(r):
        k = dict(fit_kwargs)
        if val is not None:
            k["validation_data"] = (np.asarray(val[0])[val_rows[r]], np.asarray(val[1])[val_rows[r]])
        return k
    directory = tempfile.mkdtemp(prefix="bigdl-nano-fit-")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(r, n, directory, blob, x[rows[r]], y[rows[r]], kwargs_of(r), threads,
                                               timeout), daemon=True) for r in range(n)]
    try:
        for p in procs:
            p.start()
        # Until all have exited, or one has failed (then its peers may wait for it forever).
        while True:
            failed = next((r for r, p in enumerate(procs) if p.exitcode not in (None, 0)), None)
            if failed is not None or all(p.exitcode == 0 for p in procs):
                break
            time.sleep(0.05)
        if failed is not None:
            for p in procs:
                if p.is_alive():
                    p.terminate()
            for p in procs:
                p.join(5)
            errors = sorted(f for f in os.listdir(directory) if f.startswith("error_"))
            if errors:  # the first rank that failed with a message says why, as its own exception type
                with open(os.path.join(directory, errors[0])) as f:
                    kind, _, msg = f.readline().strip().partition(": ")
                raise _ERRORS.get(kind, RuntimeError)(f"fit: process {errors[0][6:]} of {n} failed: {msg or kind}")
            raise RuntimeError(f"fit: process {failed} of {n} exited with code {procs[failed].exitcode}")
        with open(os.path.join(directory, "result"), "rb") as f:
            state, history, epochs = pickle.load(f)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        shutil.rmtree(directory, ignore_errors=True)
    model.load_state_dict(state)
    return history, epochs
