"""The README and docs/: short where a newcomer reads, links that resolve, commands that name
real configs, a quick start that runs, and nothing that points outside the repository."""
import glob
import os
import re
import subprocess
import sys

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


def test_the_python_quick_start_runs(mnist_dir, tmp_path):
    text = read(os.path.join(REPO, "README.md"))
    section = text.split("## Python quick start", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) <= 15
    code = code.replace('"../shared/data/mnist"', repr(mnist_dir)).replace("epochs=5", "epochs=2")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(os.listdir(tmp_path / "runs" / "quick" / "samples")) == [
        "step_0000004.png", "step_0000008.png"]  # 256 made-up images: 4 steps an epoch
    assert (tmp_path / "runs" / "quick" / "generator" / "saved_model.pb").exists()
    assert len((tmp_path / "quick_history.csv").read_text().splitlines()) == 3
