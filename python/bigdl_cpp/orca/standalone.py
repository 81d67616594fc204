"""A Spark standalone cluster on this machine, from the pip pyspark: a master and N workers
on loopback, started and stopped by a context manager (the tests and benchmarks use it;
it is also the quickest way to try cluster mode on a laptop).

    from bigdl_cpp.orca.standalone import LocalCluster
    with LocalCluster(workers=2, cores=1, memory="1g") as c:
        sc = init_orca_context("standalone", master=c.master, cores=1, num_nodes=2, memory="1g")
        ...
        stop_orca_context()

Each daemon runs in a session of its own; leaving the block kills the sessions (executors
and their Python workers included), also after an error.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

__all__ = ["LocalCluster"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalCluster:
    def __init__(self, workers=2, cores=1, memory="1g", work_dir=None, start_timeout=90):
        self.workers, self.cores, self.memory = int(workers), int(cores), str(memory)
        self.work_dir = work_dir
        self.start_timeout = start_timeout
        self.master = None
        self._procs = []
        self._tmp = None

    def __enter__(self):
        import pyspark

        home = os.path.dirname(pyspark.__file__)
        if self.work_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="bigdl-spark-")
            self.work_dir = self._tmp.name
        env = dict(os.environ, SPARK_HOME=home, SPARK_LOCAL_IP="127.0.0.1",
                   SPARK_WORKER_DIR=os.path.join(self.work_dir, "work"), SPARK_LOG_DIR=os.path.join(self.work_dir, "logs"),
                   PYSPARK_PYTHON=os.environ.get("PYSPARK_PYTHON") or sys.executable)
        cls = os.path.join(home, "bin", "spark-class")
        port, self.ui_port = _free_port(), _free_port()
        self.master = f"spark://127.0.0.1:{port}"
        try:
            self._start(cls, env, "master", ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port",
                                             str(port), "--webui-port", str(self.ui_port)])
            for i in range(self.workers):
                self._start(cls, env, f"worker{i}", ["org.apache.spark.deploy.worker.Worker", self.master, "--host",
                                                     "127.0.0.1", "--cores", str(self.cores), "--memory", self.memory,
                                                     "--webui-port", str(_free_port())])
            end = time.time() + self.start_timeout
            while self.alive_workers() < self.workers:
                if time.time() > end:
                    raise TimeoutError(f"LocalCluster: {self.alive_workers()} of {self.workers} Spark workers came up "
                                       f"in {self.start_timeout} s (logs: {self.work_dir})")
                if any(p.poll() is not None for p in self._procs):
                    raise RuntimeError(f"LocalCluster: a Spark daemon exited at start (logs: {self.work_dir})")
                time.sleep(0.2)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self, cls, env, name, args):
        log = open(os.path.join(self.work_dir, f"{name}.out"), "w")
        self._procs.append(subprocess.Popen([cls] + args, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True))
        log.close()

    def alive_workers(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json", timeout=2) as r:
                return int(json.load(r).get("aliveworkers", 0))
        except (OSError, ValueError):
            return 0

    def __exit__(self, *exc):
        for p in self._procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in self._procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self._procs = []
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        return False
