"""experiments.seeds: one recipe over seeds, resumable, summarised as mean ± standard error."""
import json
import math
import os

import pytest

from experiments import seeds
from tests.conftest import REPO, run_module

# A stand-in for a training program: its score is a function of --seed, and every call is
# counted in calls.txt beside it, so a test sees which seeds really ran.
FAKE_PROGRAM = '''
import json, os, sys, time
args = dict(arg[2:].split("=", 1) for arg in sys.argv[1:] if "=" in arg)
here = os.path.dirname(__file__)
with open(os.path.join(here, "calls.txt"), "a") as calls:
    calls.write(args["seed"] + "\\n")
start = time.time()
if args.get("fail_seed") == args["seed"]:
    sys.exit(3)
time.sleep(float(args.get("sleep", 0)))
with open(os.path.join(here, "spans.txt"), "a") as spans:
    threads = os.environ.get("TF_NUM_INTRAOP_THREADS")
    cores = ",".join(map(str, sorted(os.sched_getaffinity(0))))
    spans.write(f"{args['seed']} {start} {time.time()} {threads} {cores}\\n")
os.makedirs(args["run_dir"], exist_ok=True)
print("progress line")
print(json.dumps({"modes": 6 + int(args["seed"]), "reverse_kl": None, "name": "x"}))
'''


@pytest.fixture
def fake_program(tmp_path):
    (tmp_path / "fake_program.py").write_text(FAKE_PROGRAM)
    return {"PYTHONPATH": os.pathsep.join([str(tmp_path), REPO])}


def _calls(tmp_path):
    return (tmp_path / "calls.txt").read_text().split()


def _spans(tmp_path):
    """seed -> (start, end, TF_NUM_INTRAOP_THREADS, cores) of each seed that ran to the end."""
    rows = [line.split() for line in (tmp_path / "spans.txt").read_text().splitlines()]
    return {int(seed): (float(start), float(end), threads, set(cores.split(",")))
            for seed, start, end, threads, cores in rows}


def test_summarise_gives_mean_standard_error_min_and_max():
    summary = seeds.summarise({0: {"modes": 6, "kl": 0.5, "tag": "a"},
                               1: {"modes": 8, "kl": None}, 2: {"modes": 7, "kl": 0.3}})
    assert set(summary) == {"modes", "kl"}  # strings are not scores
    assert summary["modes"]["mean"] == 7 and summary["modes"]["n"] == 3
    assert summary["modes"]["se"] == pytest.approx(1 / math.sqrt(3))  # std 1 over 3 seeds
    assert (summary["modes"]["min"], summary["modes"]["max"]) == (6, 8)
    assert summary["kl"]["mean"] == pytest.approx(0.4) and summary["kl"]["n"] == 2
    assert seeds.markdown_row("ring", summary) == "| ring | 0.4 ± 0.1 | 7 ± 0.58 |"


def test_shares_split_the_cores_into_disjoint_pinned_sets(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {8, 3, 5, 4, 6}, raising=False)
    assert seeds.shares(1) == [seeds.Share()]  # one at a time: TensorFlow's own default
    assert seeds.shares(2) == [seeds.Share(2, (3, 4)), seeds.Share(2, (5, 6))]
    assert seeds.shares(6) == [seeds.Share(1)] * 6  # more seeds than cores: not pinned


def test_runs_each_seed_keeps_its_scores_and_resumes_without_rerunning(fake_program, tmp_path):
    out = str(tmp_path / "table")
    result = run_module("experiments.seeds", f"--out={out}", "--seeds=3", "--first_seed=1",
                        "--", "fake_program", "--epochs=2", env=fake_program)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[-2:] == ["| recipe | modes |", "| table | 8 ± 0.58 |"]
    assert _calls(tmp_path) == ["1", "2", "3"]
    summary = json.load(open(os.path.join(out, "summary.json")))
    assert summary["command"] == ["fake_program", "--epochs=2"]
    assert summary["seeds"]["2"]["modes"] == 8 and summary["summary"]["modes"]["mean"] == 8

    result = run_module("experiments.seeds", f"--out={out}", "--seeds=4", "--first_seed=1",
                        "--", "fake_program", "--epochs=2", env=fake_program)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _calls(tmp_path) == ["1", "2", "3", "4"]  # only the new seed ran
    assert result.stdout.splitlines()[-1] == "| table | 8.5 ± 0.65 |"


def test_a_failing_seed_stops_with_its_log_and_keeps_the_finished_ones(fake_program, tmp_path):
    out = str(tmp_path / "table")
    result = run_module("experiments.seeds", f"--out={out}", "--seeds=3", "--",
                        "fake_program", "--fail_seed=1", env=fake_program)
    assert result.returncode == 2
    assert "seed 1 exited with status 3" in result.stderr and "seed_1.log" in result.stderr
    summary = json.load(open(os.path.join(out, "summary.json")))  # the finished seed's
    assert list(summary["seeds"]) == ["0"] and summary["summary"]["modes"]["n"] == 1


def test_two_seed_ranges_share_one_table_and_another_recipe_is_refused(fake_program, tmp_path):
    out = str(tmp_path / "table")
    for first in (2, 0):  # as two processes would, one after the other here
        result = run_module("experiments.seeds", f"--out={out}", "--seeds=2",
                            f"--first_seed={first}", "--", "fake_program", env=fake_program)
        assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[-1] == "| table | 7.5 ± 0.65 |"  # seeds 0-3: 6, 7, 8, 9
    summary = json.load(open(os.path.join(out, "summary.json")))
    assert list(summary["seeds"]) == ["0", "1", "2", "3"]
    result = run_module("experiments.seeds", f"--out={out}", "--seeds=5", "--",
                        "fake_program", "--epochs=3", env=fake_program)
    assert result.returncode == 2 and "holds seeds of `fake_program`" in result.stderr
    assert sorted(_calls(tmp_path)) == ["0", "1", "2", "3"]  # seed 4 did not run


def test_parallel_seeds_overlap_with_a_share_of_the_cores_and_a_failure_starts_no_more(
        fake_program, tmp_path):
    out = str(tmp_path / "table")
    result = run_module("experiments.seeds", f"--out={out}", "--seeds=2", "--parallel=2", "--",
                        "fake_program", "--sleep=3", env=fake_program)
    assert result.returncode == 0, result.stderr[-3000:]
    spans = _spans(tmp_path)
    assert spans[0][0] < spans[1][1] and spans[1][0] < spans[0][1]  # both ran at once
    cores = len(os.sched_getaffinity(0))
    assert spans[0][2] == spans[1][2] == str(max(1, cores // 2))
    if cores >= 2:  # each pinned to its own half of the cores
        assert len(spans[0][3]) == len(spans[1][3]) == cores // 2
        assert not spans[0][3] & spans[1][3]
    assert result.stdout.splitlines()[-1] == "| table | 6.5 ± 0.5 |"

    out = str(tmp_path / "failing")
    result = run_module("experiments.seeds", f"--out={out}", "--seeds=4", "--parallel=2", "--",
                        "fake_program", "--sleep=3", "--fail_seed=0", env=fake_program)
    assert result.returncode == 2 and "seed 0 exited with status 3" in result.stderr
    assert sorted(_calls(tmp_path)[2:]) == ["0", "1"]  # seeds 2 and 3 never started
    summary = json.load(open(os.path.join(out, "summary.json")))
    assert list(summary["seeds"]) == ["1"]  # seed 1, running at the failure, finished and counts


@pytest.mark.parametrize("args, message", [
    (["--out=x"], "expected the program and its flags after `--`"),
    (["--out=x", "--", "fake_program", "--seed=3"], "set per seed by experiments.seeds"),
    (["--", "fake_program"], "--out: expected a folder"),
    (["--out=x", "--parallel=0", "--", "fake_program"], "--parallel=0: expected at least 1"),
])
def test_bad_invocations_are_one_line(fake_program, args, message):
    result = run_module("experiments.seeds", *args, env=fake_program)
    assert result.returncode == 2 and message in result.stderr, result.stderr
