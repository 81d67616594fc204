#!/usr/bin/env python3
"""Reads a bigdl-cpp event file with TensorBoard's own loader and prints its scalars.

Confirms that SummaryWriter's hand-encoded TFRecords/Event protos are what TensorBoard
expects. Needs the `tensorboard` package (pip install tensorboard) in the python that runs
it; it is not part of the C++ test suite.

    BIGDL_KEEP_EVENTS=/tmp/tb_run ./test_train --gtest_filter=SummaryWriter.RoundTrip
    python3 tests/train/check_tb_events.py /tmp/tb_run --expect Loss=6 --expect Throughput=5

Exits 1 if the file holds no scalars, or a tag's count differs from --expect TAG=N.
"""
import argparse
import sys

from tensorboard.backend.event_processing import event_accumulator


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", help="an event file, or a logdir holding one")
    ap.add_argument("--expect", action="append", default=[], metavar="TAG=N",
                    help="require N scalar events for TAG (repeatable)")
    args = ap.parse_args()

    acc = event_accumulator.EventAccumulator(args.path, size_guidance={event_accumulator.SCALARS: 0})
    acc.Reload()
    tags = acc.Tags()["scalars"]
    if not tags:
        print(f"no scalars in {args.path}", file=sys.stderr)
        return 1
    for tag in tags:
        for e in acc.Scalars(tag):
            print(f"{tag}\tstep={e.step}\tvalue={e.value:.6g}\twall_time={e.wall_time:.3f}")

    ok = True
    for spec in args.expect:
        tag, _, n = spec.partition("=")
        got = len(acc.Scalars(tag)) if tag in tags else 0
        if got != int(n):
            print(f"expected {n} events for {tag!r}, found {got}", file=sys.stderr)
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
