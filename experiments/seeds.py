"""One recipe over several seeds: mean and standard error of each final score.

    python -m experiments.seeds --out=runs/ring_bce --seeds=10 -- \
        experiments.mixture --flagfile=experiments/configs/mixture_ring.cfg --epochs=20

Runs the program after `--` once per seed (`--seed=S --run_dir=OUT/seed_S --json` appended), each
in its own process, and reads the JSON object its last stdout line prints. A seed's scores are
kept in OUT/seed_S/scores.json as soon as it finishes, so an interrupted table resumes where it
stopped (a half-trained seed resumes from its checkpoint). OUT/summary.json holds every finished
seed in OUT, also those another `--first_seed` range ran there (so two processes can share a
table), and the mean, standard error (std / sqrt(n)), min and max of each numeric score; it is
rewritten as each seed finishes. It also records the program, and another program for the same
OUT fails at once: a finished seed is never rerun, so its scores would silently join another
recipe's. stdout ends with a Markdown table header and one row of `mean ± s.e.` per score.

`--parallel=P` runs P seeds at once, each process pinned to 1/P of the cores with as many
TensorFlow threads: a small model cannot keep several cores busy with one step, so seeds side by
side train more images per second in all (two pinned single-thread mixture runs on 2 cores:
1.2-1.25x one two-thread run).
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import json
import math
import os
import queue
import re
import statistics
import subprocess
import sys
import threading
from typing import Dict, List, Sequence, Tuple

from absl import flags, logging

from keras_gan import atomic, cli
from keras_gan.errors import KerasGanError, exit_on_user_error

flags.DEFINE_string("out", None, "Folder of the seeds' run directories and summary.json.")
flags.DEFINE_integer("seeds", 10, "How many seeds to run.")
flags.DEFINE_integer("first_seed", 0, "The first seed; the others follow it.")
flags.DEFINE_integer("parallel", 1, "How many seeds run at once, each pinned to an equal share "
                     "of the cores with as many TensorFlow threads.")
FLAGS = flags.FLAGS

_OWN_FLAGS = ("--seed=", "--run_dir=", "--json")


def _is_score(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def summarise(per_seed: Dict[int, Dict[str, float]]) -> Dict[str, Dict[str, float]]:
    """Mean, standard error of the mean, min and max of each numeric score over the seeds (a
    score some seed lacks, or left None, is summarised over the seeds that have it)."""
    names = sorted({name for scores in per_seed.values() for name, value in scores.items()
                    if _is_score(value)})
    summary = {}
    for name in names:
        values = [scores[name] for scores in per_seed.values() if _is_score(scores.get(name))]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        summary[name] = {"mean": statistics.fmean(values), "se": spread / math.sqrt(len(values)),
                         "n": len(values), "min": min(values), "max": max(values)}
    return summary


def markdown_header(summary: Dict[str, Dict[str, float]]) -> str:
    return "| recipe | " + " | ".join(summary) + " |"


def markdown_row(label: str, summary: Dict[str, Dict[str, float]]) -> str:
    cells = [f"{summary[name]['mean']:.3g} ± {summary[name]['se']:.2g}" for name in summary]
    return f"| {label} | " + " | ".join(cells) + " |"


def last_json_line(stdout: str, command: Sequence[str]) -> Dict[str, float]:
    lines = [line for line in stdout.splitlines() if line.strip()]
    try:
        scores = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        raise KerasGanError(f"{' '.join(command)}: expected a JSON object on the last stdout "
                            f"line (does the program take --json?)") from None
    if not isinstance(scores, dict):
        raise KerasGanError(f"{' '.join(command)}: the last stdout line is not a JSON object")
    return scores


@dataclasses.dataclass(frozen=True)
class Share:
    """The part of the machine one seed's process gets: TensorFlow threads (0: its default, every
    core) and the cores it is pinned to (empty: wherever the OS puts it)."""
    threads: int = 0
    cores: Tuple[int, ...] = ()


def shares(parallel: int) -> List[Share]:
    """Disjoint cores for `parallel` seeds at once: pinned, two single-thread mixture runs on 2
    cores trained 1.12x the images per second of the same two unpinned."""
    if parallel == 1:
        return [Share()]
    if not hasattr(os, "sched_getaffinity"):  # macOS: threads only
        return [Share(max(1, (os.cpu_count() or 1) // parallel))] * parallel
    cores = sorted(os.sched_getaffinity(0))
    each = len(cores) // parallel
    if not each:  # more seeds than cores: the OS shares them out
        return [Share(1)] * parallel
    return [Share(each, tuple(cores[i * each:(i + 1) * each])) for i in range(parallel)]


def run_seed(program: Sequence[str], seed: int, out: str, share: Share = Share()) -> None:
    """Runs one seed into OUT/seed_S and keeps its scores there; a finished seed is left as is."""
    run_dir = os.path.join(out, f"seed_{seed}")
    scores_path = os.path.join(run_dir, "scores.json")
    if os.path.exists(scores_path):
        return
    command = [sys.executable, "-m", *program, f"--seed={seed}", f"--run_dir={run_dir}", "--json"]
    logging.info("seed %d: %s", seed, " ".join(command))
    environment = dict(os.environ)
    if share.threads:
        environment.update(TF_NUM_INTRAOP_THREADS=str(share.threads), TF_NUM_INTEROP_THREADS="1",
                           OMP_NUM_THREADS=str(share.threads))
    with open(os.path.join(out, f"seed_{seed}.log"), "ab") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, env=environment)
        if share.cores:
            # Pinned from the parent, as the interpreter starts: every thread the program starts
            # later inherits it (a preexec_fn is unsafe in a threaded parent).
            with contextlib.suppress(ProcessLookupError):
                os.sched_setaffinity(process.pid, share.cores)
        stdout, _ = process.communicate()
    if process.returncode:
        raise KerasGanError(f"seed {seed} exited with status {process.returncode}; its log: "
                            f"{os.path.join(out, f'seed_{seed}.log')}")
    scores = last_json_line(stdout.decode(), command)
    atomic.write_text(scores_path, json.dumps(scores, indent=2) + "\n")
    logging.info("seed %d: %s", seed, json.dumps(scores))


def run_seeds(program: Sequence[str], seeds: Sequence[int], out: str, parallel: int) -> None:
    """Runs `parallel` seeds at a time, each on its own share of the cores, rewriting the summary
    as each finishes. After a failure no further seed starts; those running finish (and keep
    their scores) before it is raised."""
    free = queue.SimpleQueue()
    for share in shares(parallel):
        free.put(share)
    stop = threading.Event()  # set by a failure or an interrupt: no further seed starts

    def run(seed: int) -> None:
        if stop.is_set():
            return
        share = free.get()
        try:
            run_seed(program, seed, out, share)
        except BaseException:
            stop.set()
            raise
        finally:
            free.put(share)

    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        futures = [pool.submit(run, seed) for seed in seeds]
        try:
            for future in concurrent.futures.as_completed(futures):
                future.result()
                write_summary(out, program)
        except BaseException:
            stop.set()
            pool.shutdown(wait=True)
            write_summary(out, program)  # with the seeds that were running
            raise


def finished_seeds(out: str) -> Dict[int, Dict[str, float]]:
    """The scores of every seed in `out` that has finished, by seed."""
    per_seed = {}
    for name in os.listdir(out):
        match = re.fullmatch(r"seed_(\d+)", name)
        path = os.path.join(out, name, "scores.json")
        if match and os.path.exists(path):
            with open(path) as stream:
                per_seed[int(match[1])] = json.load(stream)
    return dict(sorted(per_seed.items()))


def check_same_program(out: str, program: Sequence[str]) -> None:
    path = os.path.join(out, "summary.json")
    if not os.path.exists(path):
        return
    with open(path) as stream:
        recorded = json.load(stream)["command"]
    if recorded != list(program):
        raise KerasGanError(f"--out={out} holds seeds of `{' '.join(recorded)}`, not "
                            f"`{' '.join(program)}`: pass a new --out (finished seeds are not "
                            f"rerun, so their scores would join this recipe's)")


def write_summary(out: str, program: Sequence[str]) -> Dict[str, Dict[str, float]]:
    per_seed = finished_seeds(out)
    summary = summarise(per_seed)
    atomic.write_text(os.path.join(out, "summary.json"), json.dumps(
        {"command": list(program), "seeds": per_seed, "summary": summary}, indent=2) + "\n")
    return summary


@exit_on_user_error
def main(argv: List[str]) -> None:
    program = argv[1:]
    if not program or program[0].startswith("-"):
        raise KerasGanError("expected the program and its flags after `--`, e.g. -- "
                            "experiments.mixture --flagfile=experiments/configs/mixture_ring.cfg")
    if any(arg.startswith(_OWN_FLAGS) for arg in program):
        raise KerasGanError("--seed, --run_dir and --json are set per seed by experiments.seeds; "
                            "leave them out of the program's flags")
    if not FLAGS.out:
        raise KerasGanError("--out: expected a folder for the seeds' run directories")
    for name in ("seeds", "parallel"):
        if FLAGS[name].value < 1:
            raise KerasGanError(f"--{name}={FLAGS[name].value}: expected at least 1")
    check_same_program(FLAGS.out, program)
    os.makedirs(FLAGS.out, exist_ok=True)
    write_summary(FLAGS.out, program)  # records the program before the first seed runs
    run_seeds(program, range(FLAGS.first_seed, FLAGS.first_seed + FLAGS.seeds), FLAGS.out,
              FLAGS.parallel)
    summary = write_summary(FLAGS.out, program)
    print(markdown_header(summary), flush=True)
    print(markdown_row(os.path.basename(os.path.normpath(FLAGS.out)), summary), flush=True)


if __name__ == "__main__":
    cli.run(main)
