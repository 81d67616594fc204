"""One AutoTS trial in a process of its own: `python -m bigdl_cpp.chronos.autots.worker`
reads the pickled trial from stdin and writes the pickled (metric, weights, seconds) to
stdout. A plain subprocess, not multiprocessing: spawn would re-run the user's script
(its unguarded top level) in every worker, and fork does not carry the engine's threads."""
import pickle
import sys


def main():
    from bigdl_cpp.chronos.autots import run_trial

    args = pickle.load(sys.stdin.buffer)
    try:
        result = ("ok", run_trial(args))
    except Exception as e:  # noqa: BLE001 - reported to the parent with its type
        result = ("error", f"{type(e).__name__}: {e}")
    out = sys.stdout.buffer
    pickle.dump(result, out)
    out.flush()


if __name__ == "__main__":
    main()
