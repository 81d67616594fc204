#!/usr/bin/env -S /usr/bin/python3
"""Distributed sync on a simulated cluster: all-reduce time against the bandwidth bound,
and the data-parallel step time of a 10M-parameter MLP, for N = 1, 2, 4, 8 hosts.

Needs root (network namespaces), OpenMPI's mpirun, and the benchmarks built in --build
(bench_allreduce, bench_step; they need bigdl built with MPI). For each N it brings up N
hosts with netns.sh (one network namespace per host, every host link shaped to --rate in
both directions), launches one MPI rank per host with mpirun through netns.sh's ssh-like
agent (TCP on the shaped links only, no shared memory between hosts), prints the results
as Markdown tables and takes the hosts down again, also on Ctrl-C or SIGTERM.

  all-reduce:  time of MPI_Allreduce (the peer) and of the sharded sync (reduce-scatter +
               all-gather) through dist::Group and as a segmented ring on MPI point-to-
               point, each with OpenMPI's default collective algorithms and (--ring-algos)
               with its ring algorithms forced; the bound 2(N-1)/N * bytes / link rate;
               measured / bound; how busy the ranks' CPUs were and how long they waited
               for one.
  step:        forward+backward ("compute"), sync and optimizer time per step of
               dist::AllReduceParameter with the global batch fixed, the scaling
               efficiency t(1) / (N t(N)), and the same projected for hosts with a core
               each (compute measured alone instead of shared).

Every all-reduce run checks that the traffic went through the shaped links: the bytes the
hosts' upload token buckets passed must cover what the collectives had to send, and no f32
all-reduce whose bound is >= 0.1 s may beat it by more than 5% (shorter ones can, by the
token bucket's burst).

The ranks run in a session of their own whose scheduler autogroup gets --nice (default
-10), so that other work on the machine does not starve them of CPU; 0 leaves it alone.

usage: benchmarks/distributed/run.py [--hosts 2,4,8] [--rate 1gbit] [--sizes-mb 1,4,10,40]
                                     [--iters 5] [--algos mpi,sharded,ring] [--ring-algos mpi,sharded]
                                     [--step] [--no-allreduce] [--step-hosts 1,2,4,8]
                                     [--global-batch 2048] [--overlap 0,1] [--bucket-mb MB]
                                     [--step-ring] [--nice -10] [--build build] [--json out.json]
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
NETNS = os.path.join(HERE, "netns.sh")
SUBNET = "10.231.0.0/24"


def rate_bytes_per_s(rate):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmg]?)(bit|bps)", rate.strip().lower())
    if not m:
        sys.exit(f"run.py: --rate '{rate}' is not a tc rate like 1gbit or 250mbit")
    scale = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[m.group(2)]
    value = float(m.group(1)) * scale
    return value / 8 if m.group(3) == "bit" else value


def int_list(s, flag):
    try:
        v = [int(x) for x in s.split(",") if x]
    except ValueError:
        sys.exit(f"run.py: {flag} '{s}' is not a comma-separated list of integers")
    if not v or any(n < 1 or n > 8 for n in v):
        sys.exit(f"run.py: {flag} values must be 1..8 (netns.sh makes at most 8 hosts)")
    return v


def netns(*args, check=True, capture=False):
    return subprocess.run([NETNS, *map(str, args)], check=check, text=True,
                          capture_output=capture)


def tc_sent_bytes(n):
    """Bytes each host's upload token bucket (eth0 in bdl-hI) has passed so far."""
    sent = []
    for i in range(1, n + 1):
        out = subprocess.run(["tc", "-n", f"bdl-h{i}", "-s", "qdisc", "show", "dev", "eth0"],
                             check=True, capture_output=True, text=True).stdout
        m = re.search(r"Sent (\d+) bytes", out)
        sent.append(int(m.group(1)) if m else 0)
    return sent


# OpenMPI's own ring algorithms for the collectives the benchmarks use. Its default
# decision rules pick other algorithms for these sizes on TCP, measured slower here.
RING_MCA = ["--mca", "coll_tuned_use_dynamic_rules", "1", "--mca", "coll_tuned_allreduce_algorithm", "4",
            "--mca", "coll_tuned_reduce_scatter_algorithm", "3", "--mca", "coll_tuned_allgatherv_algorithm", "3"]

ALGO_NAMES = {
    ("mpi_allreduce", "default"): "MPI_Allreduce (peer), OpenMPI's choice",
    ("mpi_allreduce", "ring"): "MPI_Allreduce (peer), ring forced",
    ("sharded", "default"): "sharded via dist::Group (default algorithm)",
    ("sharded", "ring"): "sharded via dist::Group, OpenMPI's rings forced",
    ("sharded_ring", "default"): "sharded via dist::Group, its ring forced",
    ("sharded_mpi", "default"): "sharded via dist::Group, OpenMPI's choice forced",
    ("sharded_bf16", "default"): "sharded via dist::Group, bf16 reduce-scatter wire",
    ("sharded_gloo", "default"): "sharded via dist::Group on Gloo (the Spark backend)",
    ("ring", "default"): "sharded, segmented ring on MPI p2p",
}


def mpirun(n, binary, bench_args, workdir, args, mca=()):
    hostfile = os.path.join(workdir, f"hosts{n}")
    with open(hostfile, "w") as f:
        f.write(netns("hostfile", n, capture=True).stdout)
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_plm_rsh_agent=f"{NETNS} ssh")
    cmd = [NETNS, "run", "h1", "mpirun", "--hostfile", hostfile, "-np", str(n), "--map-by", "node",
           "--bind-to", "none",
           # one rank per simulated host, TCP on the shaped links only: no shared memory
           # (vader), no UCX (it would find /dev/shm shared between the namespaces)
           "--mca", "pml", "ob1", "--mca", "btl", "tcp,self",
           "--mca", "btl_tcp_if_include", SUBNET, "--mca", "oob_tcp_if_include", SUBNET,
           # the simulated hosts share the real cores: a rank waiting on the network
           # must yield them to the ranks that have bytes to move (OpenMPI does this by
           # itself only when it knows a node is oversubscribed)
           "--mca", "mpi_yield_when_idle", "1",
           # BIGDL_DIST_ALGO, BIGDL_DIST_TIMEOUT, ...: the ranks on other hosts see only
           # what mpirun forwards
           *[a for k in sorted(os.environ) if k.startswith("BIGDL_") for a in ("-x", k)],
           *mca, binary, *map(str, bench_args)]
    def raise_priority():
        # The job runs in a session of its own, so in its own scheduler autogroup (Linux
        # gives each session an equal CPU share whatever the nice values inside it);
        # --nice sets that group's weight against the other sessions on the machine.
        if args.nice:
            try:
                with open("/proc/self/autogroup", "w") as f:
                    f.write(str(args.nice))
            except OSError:  # a kernel without autogroups: the plain nice value then counts
                os.nice(args.nice)
    proc = subprocess.Popen(cmd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, preexec_fn=raise_priority)
    try:
        out, err = proc.communicate(timeout=1800)
    except BaseException:
        # mpirun forwards SIGTERM to its daemons and ranks; whatever is left in the
        # hosts' namespaces is ended by `netns.sh down`
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise
    if proc.returncode != 0:
        sys.stderr.write(out + err)
        raise RuntimeError(f"mpirun on {n} hosts failed with exit code {proc.returncode}")
    rows = []
    for line in out.splitlines():
        if line.startswith("{"):
            rows.append(json.loads(line))
    return rows


class Cluster:
    """netns.sh up N ... down, as a context manager (down also on errors and signals)."""

    def __init__(self, n, rate):
        self.n, self.rate = n, rate

    def __enter__(self):
        netns("down")  # leftovers from an interrupted run
        netns("up", self.n, "--rate", self.rate, "--delay", "0.1ms")
        return self

    def __exit__(self, *exc):
        netns("down")
        return False


def fmt_bytes(b):
    return f"{b / 1e6:g} MB"


def run_allreduce(args, binary, workdir, link):
    results = []
    for n in args.hosts:
        if n < 2:
            continue
        with Cluster(n, args.rate):
            before = tc_sent_bytes(n)
            common = ["--sizes-mb", args.sizes_mb, "--iters", args.iters, "--warmup", args.warmup,
                      "--link-gbit", link * 8 / 1e9]
            rows = mpirun(n, binary, common + ["--algos", args.algos], workdir, args)
            for r in rows:
                r["config"] = "default"
            if args.ring_algos:
                ring_rows = mpirun(n, binary, common + ["--algos", args.ring_algos], workdir, args, RING_MCA)
                for r in ring_rows:
                    r["config"] = "ring"
                rows += ring_rows
            after = tc_sent_bytes(n)
        # Any all-reduce must move each element off N-1 of the hosts at least once to sum
        # it, so the host uploads together carry >= (N-1) * bytes per call; a run whose
        # shaped links passed less went around them (shared memory, another interface).
        calls = int(args.iters) + int(args.warmup)
        needed = sum((n - 1) * r["bytes"] * calls for r in rows)
        passed = sum(a - b for a, b in zip(after, before))
        # A token bucket starts full and refills while a host idles, so a short call can
        # beat the bound by up to burst / rate (256 KB: 2 ms at 1 Gbit/s) per idle gap;
        # only calls whose bound dwarfs that are held to it.
        fast = [r for r in rows if r["wire"] == "f32" and r["bound_s"] >= 0.1 and r["median_s"] < 0.95 * r["bound_s"]]
        if passed < needed or fast:
            raise RuntimeError(f"{n} hosts: traffic did not go through the shaped links "
                               f"(host uploads passed {passed / 1e6:.1f} MB, the collectives need >= "
                               f"{needed / 1e6:.1f} MB; {len(fast)} rows beat the bound)")
        for r in rows:
            r["link_check_mb"] = [passed / 1e6, needed / 1e6]
        results += rows
        print(f"  N={n}: host uploads passed {passed / 1e6:.0f} MB through the shaped links "
              f"(the collectives need >= {needed / 1e6:.0f} MB)",
              file=sys.stderr)
    print(f"\nAll-reduce of f32 gradients, one rank per host, each host link {args.rate} full duplex "
          f"(bound = 2(N-1)/N * bytes / {link / 1e6:g} MB/s); median of {args.iters}:\n")
    print("| hosts | size | algorithm | measured s | bound s | measured / bound | CPU busy | waiting for CPU |")
    print("|---|---|---|---|---|---|---|---|")
    for r in sorted(results, key=lambda r: (r["ranks"], r["bytes"])):
        name = ALGO_NAMES.get((r["algo"], r["config"]), f"{r['algo']} ({r['config']})")
        print(f"| {r['ranks']} | {fmt_bytes(r['bytes'])} | {name} | {r['median_s']:.3f} | {r['bound_s']:.3f} | "
              f"{r['ratio']:.2f} | {r['cpu_busy']:.2f} | {r['cpu_wait']:.2f} |")
    return results


def run_step(args, binary, workdir, link):
    results = []
    for n in args.step_hosts:
        with Cluster(n, args.rate):
            for overlap in args.overlap:
                bench_args = ["--global-batch", args.global_batch, "--steps", args.steps,
                              "--link-gbit", link * 8 / 1e9, "--overlap", overlap]
                if args.bucket_mb:
                    bench_args += ["--bucket-mb", args.bucket_mb]
                results += mpirun(n, binary, bench_args, workdir, args, RING_MCA if args.step_ring else ())
    for r in results:
        if not r["weights_agree"]:
            raise RuntimeError(f"{r['ranks']} ranks ended with different weights")
        # what N real hosts would see: the local batch's compute on a core of its own
        # (measured alone) plus the sync and optimizer time measured on the links
        r["step_dedicated_s"] = r["compute_alone_s"] + r["sync_s"] + r["optim_s"]
    print(f"\nData-parallel step, MLP {args.mlp_desc}, global batch {args.global_batch} split over N ranks, "
          f"SGD momentum, dist::AllReduceParameter (f32 wire, "
          f"{args.bucket_mb + ' MB' if args.bucket_mb else 'default'} buckets, "
          f"{'OpenMPI ring' if args.step_ring else 'dist::Group default'} collectives), median of {args.steps} steps, "
          f"link {args.rate}; efficiency = t(1) / (N t(N)); projected = compute alone + sync + optimizer:\n")
    print("| hosts | overlap | step s | compute s | sync s | sync bound s | optimizer s | efficiency |"
          " compute alone s | projected step s | projected efficiency |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for overlap in args.overlap:
        rows = [r for r in results if r["overlap"] == overlap]
        base = next((r for r in rows if r["ranks"] == 1), None)
        for r in rows:
            n = r["ranks"]
            r["efficiency"] = base["step_s"] / (n * r["step_s"]) if base else None
            # With overlap the reduce-scatter partly hides in a backward that sharing slowed
            # down; on dedicated cores backward ends sooner and less would hide, so the sum
            # is projected only for the sequential step.
            projectable = base and not overlap
            r["efficiency_projected"] = base["step_dedicated_s"] / (n * r["step_dedicated_s"]) if projectable else None
            eff = f"{r['efficiency']:.2f}" if base else "-"
            proj = f"{r['step_dedicated_s']:.3f} | {r['efficiency_projected']:.2f}" if projectable else "- | -"
            print(f"| {n} | {'on' if overlap else 'off'} | {r['step_s']:.3f} | {r['compute_s']:.3f} | "
                  f"{r['sync_s']:.3f} | {r['sync_bound_s']:.3f} | {r['optim_s']:.3f} | {eff} | "
                  f"{r['compute_alone_s']:.3f} | {proj} |")
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hosts", default="2,4,8", help="host counts for the all-reduce table")
    ap.add_argument("--rate", default="1gbit", help="each host link's rate (tc syntax)")
    ap.add_argument("--sizes-mb", default="1,4,10,40")
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--algos", default="mpi,sharded,ring",
                    help="bench_allreduce algorithms under OpenMPI's default collective algorithms "
                         "(mpi, sharded, sharded_ring, sharded_mpi, sharded_bf16, sharded_gloo, ring)")
    ap.add_argument("--ring-algos", default="mpi,sharded",
                    help="algorithms to run again with OpenMPI's ring collectives forced (RING_MCA); "
                         "empty to skip")
    ap.add_argument("--no-allreduce", action="store_true")
    ap.add_argument("--step", action="store_true", help="also run the data-parallel step benchmark")
    ap.add_argument("--step-hosts", default="1,2,4,8")
    ap.add_argument("--global-batch", type=int, default=2048)
    ap.add_argument("--bucket-mb", help="step benchmark: AllReduceParameter bucket size (default: the library's)")
    ap.add_argument("--step-ring", action="store_true", help="step benchmark: force OpenMPI's ring collectives")
    ap.add_argument("--overlap", default="0,1",
                    help="step benchmark: 0 = reduce-scatter after backward (compute and sync apart), "
                         "1 = during backward (what fit does)")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="build folder")
    ap.add_argument("--json", help="also write all rows to this file")
    ap.add_argument("--nice", type=int, default=-10,
                    help="nice value of the benchmark's scheduler autogroup (0: leave it); on a machine "
                         "shared with other work the ranks otherwise wait for a CPU most of the time")
    args = ap.parse_args()
    args.hosts = int_list(args.hosts, "--hosts")
    args.step_hosts = int_list(args.step_hosts, "--step-hosts")
    args.overlap = [int(x) for x in args.overlap.split(",") if x in ("0", "1")] or [0]
    args.mlp_desc = "784-2048-2048-2048-10 (10.0M parameters, 40 MB of f32 gradients)"
    if os.geteuid() != 0:
        sys.exit("run.py: needs root (it creates network namespaces)")
    if not shutil.which("mpirun"):
        sys.exit("run.py: mpirun not found (OpenMPI: apt-get install openmpi-bin libopenmpi-dev)")
    link = rate_bytes_per_s(args.rate)
    bench_dir = os.path.join(os.path.abspath(args.build), "benchmarks")
    # SIGTERM/SIGHUP unwind like Ctrl-C, so the Cluster context managers take the hosts down
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    results = {}
    for name in (["bench_allreduce"] if not args.no_allreduce else []) + (["bench_step"] if args.step else []):
        if not os.access(os.path.join(bench_dir, name), os.X_OK):
            sys.exit(f"run.py: {os.path.join(bench_dir, name)} not found; build it (cmake --build {args.build} "
                     f"--target {name}; it needs bigdl built with MPI)")
    with tempfile.TemporaryDirectory() as workdir:
        try:
            if not args.no_allreduce:
                results["allreduce"] = run_allreduce(args, os.path.join(bench_dir, "bench_allreduce"), workdir, link)
            if args.step:
                results["step"] = run_step(args, os.path.join(bench_dir, "bench_step"), workdir, link)
        except KeyboardInterrupt:
            sys.exit("run.py: interrupted; the simulated hosts are taken down")
        except RuntimeError as e:
            sys.exit(f"run.py: {e}")
        finally:
            netns("down", check=False)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rate": args.rate, "nice": args.nice, **results}, f, indent=1)


if __name__ == "__main__":
    main()
