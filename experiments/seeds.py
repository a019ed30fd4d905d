"""One recipe over several seeds: mean and standard error of each final score.

    python -m experiments.seeds --out=runs/ring_bce --seeds=10 -- \
        experiments.mixture --flagfile=experiments/configs/mixture_ring.cfg --epochs=20

Runs the program after `--` once per seed (`--seed=S --run_dir=OUT/seed_S --json` appended), each
in its own process, and reads the JSON object its last stdout line prints. A seed's scores are
kept in OUT/seed_S/scores.json as soon as it finishes, so an interrupted table resumes where it
stopped (a half-trained seed resumes from its checkpoint). OUT/summary.json holds every seed and
the mean, standard error (std / sqrt(n)), min and max of each numeric score; stdout ends with a
Markdown table header and one row of `mean ± s.e.` per score.
"""
from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
from typing import Dict, List, Sequence

from absl import flags, logging

from keras_gan import atomic, cli
from keras_gan.errors import KerasGanError, exit_on_user_error

flags.DEFINE_string("out", None, "Folder of the seeds' run directories and summary.json.")
flags.DEFINE_integer("seeds", 10, "How many seeds to run.")
flags.DEFINE_integer("first_seed", 0, "The first seed; the others follow it.")
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


def run_seed(program: Sequence[str], seed: int, out: str) -> Dict[str, float]:
    run_dir = os.path.join(out, f"seed_{seed}")
    scores_path = os.path.join(run_dir, "scores.json")
    if os.path.exists(scores_path):
        with open(scores_path) as stream:
            return json.load(stream)
    command = [sys.executable, "-m", *program, f"--seed={seed}", f"--run_dir={run_dir}", "--json"]
    logging.info("seed %d: %s", seed, " ".join(command))
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, f"seed_{seed}.log"), "ab") as log:
        finished = subprocess.run(command, stdout=subprocess.PIPE, stderr=log)
    if finished.returncode:
        raise KerasGanError(f"seed {seed} exited with status {finished.returncode}; its log: "
                            f"{os.path.join(out, f'seed_{seed}.log')}")
    scores = last_json_line(finished.stdout.decode(), command)
    atomic.write_text(scores_path, json.dumps(scores, indent=2) + "\n")
    logging.info("seed %d: %s", seed, json.dumps(scores))
    return scores


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
    if FLAGS.seeds < 1:
        raise KerasGanError(f"--seeds={FLAGS.seeds}: expected at least 1")
    seeds = range(FLAGS.first_seed, FLAGS.first_seed + FLAGS.seeds)
    per_seed = {seed: run_seed(program, seed, FLAGS.out) for seed in seeds}
    summary = summarise(per_seed)
    atomic.write_text(os.path.join(FLAGS.out, "summary.json"), json.dumps(
        {"command": program, "seeds": per_seed, "summary": summary}, indent=2) + "\n")
    print(markdown_header(summary), flush=True)
    print(markdown_row(os.path.basename(os.path.normpath(FLAGS.out)), summary), flush=True)


if __name__ == "__main__":
    cli.run(main)
