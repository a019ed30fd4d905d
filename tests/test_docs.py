"""The README and docs/: short where a newcomer reads, links that resolve, commands that name
real configs, and nothing that points outside the repository (tests/test_readme.py runs the
README's blocks)."""
import glob
import os
import re

from tests.conftest import REPO

PAGES = [os.path.join(REPO, "README.md"), *glob.glob(os.path.join(REPO, "docs", "*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def read(path):
    return open(path, encoding="utf-8").read()


def prose_paragraphs(text):
    """Paragraphs outside code blocks and tables."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    for paragraph in re.split(r"\n\s*\n", text):
        lines = [line for line in paragraph.splitlines() if not line.startswith(("|", "#"))]
        if lines:
            yield " ".join(lines)


def test_every_relative_link_resolves():
    for page in PAGES:
        for target in LINK.findall(read(page)):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path = os.path.normpath(os.path.join(os.path.dirname(page), target.split("#")[0]))
            assert os.path.exists(path), f"{os.path.relpath(page, REPO)} links {target}"


def test_every_config_named_in_a_command_exists():
    named = set()
    for page in PAGES:
        named |= set(re.findall(r"experiments/configs/([a-z][\w.]*\.cfg)", read(page)))
    assert named, "no config named anywhere"
    for config in named:
        assert os.path.exists(os.path.join(REPO, "experiments", "configs", config)), config
    listed = read(os.path.join(REPO, "docs", "configs.md"))
    for path in glob.glob(os.path.join(REPO, "experiments", "configs", "*.cfg")):
        assert f"`{os.path.basename(path)}`" in listed, f"docs/configs.md omits {path}"


def test_the_readme_is_short_and_opens_with_what_it_is():
    text = read(os.path.join(REPO, "README.md"))
    assert len(text.splitlines()) <= 200
    first = next(prose_paragraphs(text.split("\n", 1)[1]))
    assert "library" in first and len(first.split()) <= 60
    for paragraph in prose_paragraphs(text):
        assert len(paragraph.split()) <= 100, paragraph[:80]
    # Results and dates belong in docs/, not in the README's prose.
    assert not re.findall(r"20\d\d-\d\d-\d\d", "\n".join(prose_paragraphs(text)))


def test_every_docs_page_opens_with_what_it_is_for():
    for page in glob.glob(os.path.join(REPO, "docs", "*.md")):
        lines = read(page).splitlines()
        assert lines[0].startswith("# ") and lines[1] == "" and lines[2], page


def test_nothing_points_outside_the_repository():
    files = [*PAGES, *glob.glob(os.path.join(REPO, "keras_gan", "**", "*.py"), recursive=True),
             *glob.glob(os.path.join(REPO, "experiments", "**", "*.py"), recursive=True),
             *glob.glob(os.path.join(REPO, "experiments", "configs", "*.cfg")),
             *glob.glob(os.path.join(REPO, "tests", "*.py")),
             *glob.glob(os.path.join(REPO, "examples", "*.py"))]
    name = "S" + "PEC"  # assembled, so the check does not find itself
    cited = re.compile(name + r"\.md|\b" + name + r" (\d|section)")
    for path in files:
        assert not cited.search(read(path)), path


def programs():
    """The absl programs: every module that runs `cli.run(main)`."""
    for folder in ("experiments", "keras_gan"):
        for path in sorted(glob.glob(os.path.join(REPO, folder, "*.py"))):
            if "cli.run(main)" in read(path) and not path.endswith("cli.py"):
                yield f"{folder}.{os.path.basename(path)[:-3]}"


def test_every_flag_a_page_names_is_defined_by_a_program():
    import json
    import subprocess
    import sys

    dump = "import importlib, json, sys; from absl import flags; " \
           "importlib.import_module(sys.argv[1]); print(json.dumps(sorted(flags.FLAGS)))"
    running = [subprocess.Popen([sys.executable, "-c", dump, module], cwd=REPO, text=True,
                                stdout=subprocess.PIPE) for module in programs()]
    defined = set().union(*(json.loads(process.communicate()[0]) for process in running))
    assert {"run_dir", "generator", "model", "parts", "seeds"} <= defined  # every program read
    # absl's own, and those of other tools the pages show (TensorBoard, saved_model_cli)
    defined |= {"flagfile", "help", "helpfull", "logdir", "dir", "all"}
    for page in PAGES:
        for name in re.findall(r"(?<![\w-])--([a-z][a-z0-9_]*)", read(page)):
            known = name in defined or (name.startswith("no") and name[2:] in defined)
            assert known, f"{os.path.relpath(page, REPO)} names --{name}, which no program defines"


def test_the_version_is_the_changelog_s_newest():
    import keras_gan

    newest = re.search(r"^## (\d+\.\d+\.\d+) ", read(os.path.join(REPO, "docs", "CHANGELOG.md")),
                       re.M).group(1)
    assert keras_gan.__version__ == newest


def test_every_row_of_the_results_table_has_data_scores_time_machine_date_and_command():
    text = read(os.path.join(REPO, "docs", "results.md"))
    table = text.split("## Every measured config", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    header, rows = rows[0], rows[1:]
    assert header.split("|")[1:-1] == [
        " config ", " data ", " seed ", " Parzen LL ", " FID ", " other ", " wall time ",
        " machine, date ", " command "]
    assert len(rows) >= 20
    for row in rows:
        config, data, seed, parzen, fid, other, time, machine, command = row.split("|")[1:-1]
        name = re.match(r" `([a-z][\w.]*)`", config).group(1)
        assert (os.path.exists(os.path.join(REPO, "experiments", "configs", f"{name}.cfg"))
                or os.path.exists(os.path.join(REPO, *name.split(".")) + ".py")), row
        assert data.strip() and seed.strip() and time.strip() and command.strip(), row
        assert parzen.strip() != "—" or fid.strip() != "—" or other.strip(), row
        assert re.search(r"20\d\d-\d\d-\d\d", machine), row
