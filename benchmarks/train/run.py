#!/usr/bin/env -S /usr/bin/python3
"""Training throughput, bigdl-cpp vs PyTorch on the same machine in the same run.

Runs with Debian's /usr/bin/python3 (python3-torch 1.13; `scripts/install_deps.sh --bench`).
For each model (MLP 784-512-256-10 b128, LeNet-5 1x28x28 b128, ResNet 3x2 blocks 16/32/64
3x32x32 b64, LSTM in32 h128 seq50 b64) and thread count (1, 2) it times forward +
backward + SGD(momentum) steps on random data, ours through build/benchmarks/bench_train,
PyTorch in a fresh process, and prints samples/s and the ratio ours/PyTorch.

PyTorch is measured at its best here: OMP_WAIT_POLICY=passive (its OpenMP and OpenBLAS
pools otherwise fight at 2 threads) and, on AVX-512 machines, OPENBLAS_CORETYPE=SkylakeX.

usage: benchmarks/train/run.py [--seconds 3] [--models mlp,lenet5,resnet,lstm] [--threads 1,2]
"""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from machine import cpu_name  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

TORCH_CHILD = r'''
import json, sys, time, torch
sys.path.insert(0, sys.argv[1])
import torch_models as tm
model, threads, seconds = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
torch.set_num_threads(threads)
torch.manual_seed(0)
if model == "mlp":
    b, net, x = 128, tm.mlp([784, 512, 256, 10]), torch.randn(128, 784)
elif model == "lenet5":
    b, net, x = 128, tm.lenet5(), torch.randn(128, 1, 28, 28)
elif model == "resnet":
    b, net, x = 64, tm.resnet_cifar(3, 2), torch.randn(64, 3, 32, 32)
else:
    b, net, x = 64, tm.LstmClassifier(), torch.randn(50, 64, 32)
y = torch.randint(0, 10, (b,))
opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
ce = torch.nn.CrossEntropyLoss()
def step():
    opt.zero_grad()
    ce(net(x), y).backward()
    opt.step()
for _ in range(3):
    step()
n, t0 = 0, time.perf_counter()
while True:
    step(); n += 1
    el = time.perf_counter() - t0
    if el >= seconds and n >= 5:
        break
print(json.dumps({"samples_per_s": n * b / el, "steps": n}))
'''


def has_avx512():
    try:
        with open("/proc/cpuinfo") as f:
            return "avx512f" in f.read()
    except OSError:
        return False


def run_ours(binary, model, threads, seconds):
    out = subprocess.run([binary, "--model", model, "--threads", str(threads), "--seconds", str(seconds)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["samples_per_s"]


def run_torch(model, threads, seconds):
    env = dict(os.environ, OMP_WAIT_POLICY="passive", OMP_NUM_THREADS=str(threads))
    if has_avx512():
        env["OPENBLAS_CORETYPE"] = "SkylakeX"
    out = subprocess.run(["/usr/bin/python3", "-c", TORCH_CHILD, HERE, model, str(threads), str(seconds)],
                         check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])["samples_per_s"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--models", default="mlp,lenet5,resnet,lstm")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "benchmarks", "bench_train"))
    a = ap.parse_args()
    if not os.path.exists(a.binary):
        sys.exit(f"run.py: {a.binary} not found; build first (scripts/build.sh)")
    import torch  # noqa: F401  (fail early with a clear message if python3-torch is missing)
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores; torch {torch.__version__}")
    print(f"{'model':<8} {'threads':>7} {'bigdl-cpp':>12} {'pytorch':>12} {'ratio':>7}")
    for model in a.models.split(","):
        for t in [int(s) for s in a.threads.split(",")]:
            ours = run_ours(a.binary, model, t, a.seconds)
            theirs = run_torch(model, t, a.seconds)
            print(f"{model:<8} {t:>7} {ours:>12.1f} {theirs:>12.1f} {ours / theirs:>7.2f}", flush=True)
    print("(samples/s of forward + backward + SGD-momentum step; ratio = bigdl-cpp / PyTorch)")


if __name__ == "__main__":
    main()
