"""Two-worker MultiWorkerMirroredStrategy training on localhost, against one worker.

Starts two `train` workers on free 127.0.0.1 ports with TF_CONFIG, trains the same run on
both, then checks that both workers end with the same weights and that the chief's SavedModel
loads and embeds. Then trains the same global batch on one worker (default strategy) and prints
the per-step time of each (median over logging intervals, the first one, with tracing, left
out). Both workers share this machine's CPUs, so this measures the cost of the all-reduce, not a
speed-up. Every child is killed when the bench ends or times out.

    python bench/multi_worker.py --steps 300
    python bench/multi_worker.py --data_dir /tmp/tfds/bench   # the real 2-digit train split
"""

import argparse
import contextlib
import json
import os
import pathlib
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from hib_tf.training import loop
from hib_tf.training import strategy as strategies
from hib_tf.training.config import TrainConfig


def _free_ports(count):
    """Ports free on 127.0.0.1 now (the OS picks them; they are released before use)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _worker_command(args, folder, strategy, report):
    return [
        sys.executable,
        __file__,
        "--worker",
        "--output_dir",
        str(folder),
        "--strategy",
        strategy,
        "--report",
        str(report),
        "--steps",
        str(args.steps),
        "--batch_size",
        str(args.batch_size),
        "--log_every",
        str(args.log_every),
        "--filters",
        *map(str, args.filters),
        *(["--data_dir", args.data_dir] if args.data_dir else []),
    ]


def _run_all(commands_and_envs, deadline, log_folder):
    """Runs the commands side by side until all end; kills every one on error or timeout."""
    with contextlib.ExitStack() as stack:
        children = []
        stack.callback(_kill_running, children)
        for index, (command, env) in enumerate(commands_and_envs):
            log = stack.enter_context(open(log_folder / f"child{index}.log", "w"))
            children.append(
                subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
            )
        for index, child in enumerate(children):
            code = child.wait(timeout=max(1.0, deadline - time.monotonic()))
            if code:
                tail = (log_folder / f"child{index}.log").read_text()[-3000:]
                raise RuntimeError(f"child {index} exited with {code}:\n{tail}")


def _kill_running(children):
    for child in children:
        if child.poll() is None:
            child.kill()
            child.wait()


def _check_and_report(folder, reports, single_report):
    chief, other = (np.load(report.with_suffix(".npz")) for report in reports)
    differences = [float(np.max(np.abs(chief[name] - other[name]))) for name in chief.files]
    served = tf.saved_model.load(str(folder / "saved_model"))
    means = served.embed(tf.zeros([2, 28, 56, 1]))["means"].numpy()
    times = [json.loads(report.read_text()) for report in (*reports, single_report)]
    print(f"workers: 2 on 127.0.0.1, final step {times[0]['step']} and {times[1]['step']}")
    print(f"weights: {len(chief.files)} arrays, max |chief - worker 1| = {max(differences):.3g}")
    print(
        f"chief SavedModel: loads, embed -> means {means.shape}, finite {np.isfinite(means).all()}"
    )
    print(f"run folder: {sorted(p.name for p in folder.iterdir())}")
    two, one = times[0]["seconds_per_step"], times[2]["seconds_per_step"]
    print(f"per-step time, global batch {times[0]['batch_size']}:")
    print(f"  2 workers (MultiWorkerMirroredStrategy): {1000 * two:.1f} ms")
    print(f"  1 worker (default strategy):             {1000 * one:.1f} ms")
    print(f"  ratio: {two / one:.2f}")
    if max(differences) != 0.0 or not np.isfinite(means).all():
        sys.exit("FAILED: the workers' weights differ, or the SavedModel embeds non-finite values")


def bench(args):
    deadline = time.monotonic() + args.timeout
    with tempfile.TemporaryDirectory(prefix="hib_multi_worker_") as scratch:
        scratch = pathlib.Path(scratch)
        folder = scratch / "two_workers"
        ports = _free_ports(2)
        cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
        reports = [scratch / f"worker{index}.json" for index in range(2)]
        jobs = []
        for index in range(2):
            tf_config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
            env = {**os.environ, "TF_CONFIG": json.dumps(tf_config)}
            jobs.append((_worker_command(args, folder, "multi_worker", reports[index]), env))
        start = time.monotonic()
        _run_all(jobs, deadline, scratch)
        print(f"two workers: {time.monotonic() - start:.0f} s wall")
        single_report = scratch / "single.json"
        env = {name: value for name, value in os.environ.items() if name != "TF_CONFIG"}
        single = _worker_command(args, scratch / "one_worker", "default", single_report)
        start = time.monotonic()
        _run_all([(single, env)], deadline, scratch)
        print(f"one worker: {time.monotonic() - start:.0f} s wall")
        _check_and_report(folder, reports, single_report)


def worker(args):
    """Trains one worker of the run; writes its step time and final weights to --report."""
    # Before any TensorFlow op: a multi-worker strategy configures the runtime (train reuses it).
    strategies.make_strategy(args.strategy)
    config = TrainConfig(
        output_dir=args.output_dir,
        strategy=args.strategy,
        steps=args.steps,
        batch_size=args.batch_size,
        log_every=args.log_every,
        checkpoint_every=args.steps,
        filters=tuple(args.filters),
        data_dir=args.data_dir,
    )
    examples = None
    if not args.data_dir:
        rng = np.random.default_rng(0)
        labels = np.repeat(np.arange(50), 20)
        images = rng.integers(0, 256, (len(labels), 28, 56, 1), dtype=np.uint8)
        examples = tf.data.Dataset.from_tensor_slices({"image": images, "label": labels})

    class Report(keras.callbacks.Callback):
        """Times each logging interval; at the end, writes the times and the weights."""

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self._seconds.append((time.perf_counter() - self._start) / args.log_every)

        def on_train_begin(self, logs=None):
            self._seconds = []

        def on_train_end(self, logs=None):
            report = pathlib.Path(args.report)
            weights = {f"w{i}": v.numpy() for i, v in enumerate(self.model.weights)}
            np.savez(report.with_suffix(".npz"), **weights)
            summary = {
                "step": int(self.model.optimizer.iterations.numpy()),
                "batch_size": args.batch_size,
                "seconds_per_step": statistics.median(self._seconds[1:] or self._seconds),
            }
            report.write_text(json.dumps(summary))

    loop.train(config, verbose=0, examples=examples, callbacks=[Report()])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch_size", type=int, default=128, help="global batch")
    parser.add_argument("--log_every", type=int, default=20, help="steps per timed interval")
    parser.add_argument("--filters", type=int, nargs=2, default=[4, 8])
    parser.add_argument("--data_dir", default=None, help="TFDS folder (default: synthetic)")
    parser.add_argument("--timeout", type=float, default=540, help="seconds for the whole bench")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--output_dir", help=argparse.SUPPRESS)
    parser.add_argument("--strategy", help=argparse.SUPPRESS)
    parser.add_argument("--report", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
    else:
        bench(args)


if __name__ == "__main__":
    main()
