"""init_orca_context(cluster_mode="mpi"): the Estimator on NumPy data over the MPI job that
mpirun started (each rank loads the data and trains its contiguous share), equal to one
process."""
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
from sklearn.datasets import load_digits

from bigdl_cpp.dllib.keras import optimizers
from bigdl_cpp.dllib.keras.layers import Dense
from bigdl_cpp.dllib.keras.models import Sequential
from bigdl_cpp.orca.learn.estimator import Estimator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_model():
    m = Sequential()
    m.add(Dense(32, activation="relu", input_shape=(64,)))
    m.add(Dense(10, activation="softmax"))
    m.compile(optimizers.AdamW(lr=0.01), "sparse_categorical_crossentropy", ["accuracy"])
    return m


def test_mpi_mode_trains_over_the_mpi_job_and_equals_one_process(tmp_path):
    model = make_model()
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(model))
    script = textwrap.dedent(f"""
        import pickle, numpy as np
        from sklearn.datasets import load_digits
        from bigdl_cpp.orca import init_orca_context
        from bigdl_cpp.orca.learn.estimator import Estimator
        from bigdl_cpp._native import dist
        init_orca_context(cluster_mode="mpi")
        x, y = load_digits(return_X_y=True)
        est = Estimator.from_keras(pickle.load(open("{tmp_path}/model.pkl", "rb")))
        hist = est.fit(((x / 16).astype("float32"), y), epochs=3, batch_size=48, verbose=0)
        assert dist.world().size == 2
        if dist.world().rank == 0:
            np.savez("{tmp_path}/w.npz", *est.get_model().get_weights(), loss=hist["loss"][-1])
    """)
    env = dict(os.environ, BIGDL_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([os.path.join(ROOT, "tests", "dist", "mpirun.sh"), "2", sys.executable, "-c", script],
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    got = np.load(tmp_path / "w.npz")
    x, y = load_digits(return_X_y=True)
    est = Estimator.from_keras(pickle.loads((tmp_path / "model.pkl").read_bytes()))
    hist = est.fit(((x / 16).astype("float32"), y), epochs=3, batch_size=48, verbose=0)
    ref = est.get_model().get_weights()
    assert max(float(np.abs(got[f"arr_{i}"] - w).max()) for i, w in enumerate(ref)) <= 1e-5
    assert abs(float(got["loss"]) - hist["loss"][-1]) <= 1e-5 * hist["loss"][-1]
