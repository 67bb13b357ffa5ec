"""`asv_bench/history.sh` builds a dashboard from a fresh install.

Each test copies the working tree into a scratch git repository with commits
of its own, so it needs neither this checkout's history (a CI clone may be
shallow) nor anything beyond the README's install.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path


REPO = Path(__file__).resolve().parent.parent
GIT = ["git", "-c", "user.name=history-test", "-c", "user.email=history@test",
       "-c", "commit.gpgsign=false"]


def _tracked_files():
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.split()
    return [p for p in listed if (REPO / p).is_file()]


def _scratch_repo(tmp_path, keep=lambda path: True):
    root = tmp_path / "repo"
    for path in filter(keep, _tracked_files()):
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / path, target)
    subprocess.run(GIT + ["init", "-q"], cwd=root, check=True)
    subprocess.run(GIT + ["add", "-A"], cwd=root, check=True)
    subprocess.run(GIT + ["commit", "-q", "-m", "first"], cwd=root, check=True)
    return root


def _commit(root, message):
    with open(root / "README.md", "a") as readme:
        readme.write(f"\n{message}\n")
    subprocess.run(GIT + ["commit", "-q", "-am", message], cwd=root, check=True)
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                          text=True, check=True).stdout.strip()


def _history(root, *args):
    environment = dict(os.environ, PYTHON=sys.executable, SNNAX_BENCH_SMALL="1",
                       ASV_RUN_ARGS="--bench GemmFloor", ASV_MACHINE="history-test")
    return subprocess.run(["bash", str(root / "asv_bench" / "history.sh"), *args], cwd=root,
                          env=environment, capture_output=True, text=True, timeout=600)


def test_history_of_two_commits_publishes_a_dashboard_listing_both(tmp_path):
    root = _scratch_repo(tmp_path)
    first = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                           text=True, check=True).stdout.strip()
    second = _commit(root, "second")
    result = _history(root, "2")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "2 commit(s) benchmarked" in result.stdout
    # Published after each commit, not only at the end.
    assert "dashboard updated (1 commit(s) so far)" in result.stdout
    assert "dashboard updated (2 commit(s) so far)" in result.stdout
    index = json.loads((root / "asv_bench" / "html" / "index.json").read_text())
    assert sorted(index["revision_to_hash"].values()) == sorted([first, second])
    assert any(name.startswith("bench_floor.GemmFloor") for name in index["benchmarks"])
    graphs = list((root / "asv_bench" / "html" / "graphs").rglob("bench_floor.GemmFloor.*.json"))
    points = json.loads(graphs[0].read_text())
    assert len(points) == 2, points


def test_history_without_a_benchmarkable_commit_fails_loudly(tmp_path):
    root = _scratch_repo(tmp_path, keep=lambda path: not path.startswith("snnax_ref/"))
    result = _history(root, "1")
    assert result.returncode == 1
    assert "has no snnax_ref package, skipped" in result.stderr
    assert "no commit could be benchmarked" in result.stderr
    assert not (root / "asv_bench" / "html").exists()
