"""Private files: 0600 files and 0700 folders, never written through a symlink; an open store is
tightened with a note."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from claude_perf.runtime.private_files import tighten, write_private
from claude_perf.store.db import Store


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_new_files_and_folders_are_private_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        path = write_private(tmp_path / "a" / "b" / "report.md", b"x")
    finally:
        os.umask(old)
    assert (mode(path), mode(path.parent), mode(path.parent.parent)) == (0o600, 0o700, 0o700)
    assert path.read_bytes() == b"x"


def test_an_existing_open_file_is_truncated_and_tightened(tmp_path):
    path = tmp_path / "out.csv"
    path.write_bytes(b"old content that is longer")
    path.chmod(0o644)
    write_private(path, b"new")
    assert (path.read_bytes(), mode(path)) == (b"new", 0o600)


def test_a_symlink_at_the_name_is_refused_and_its_target_untouched(tmp_path):
    target = tmp_path / "victim"
    target.write_bytes(b"keep")
    link = tmp_path / "report.md"
    link.symlink_to(target)
    with pytest.raises(OSError):
        write_private(link, b"overwrite")
    assert target.read_bytes() == b"keep"


def test_a_symlinked_report_is_a_one_line_error(tmp_path):
    from tests.cli_support import ROOT, run_cli

    target = tmp_path / "victim"
    target.write_bytes(b"keep")
    link = tmp_path / "report.md"
    link.symlink_to(target)
    capture = ROOT / "fixtures" / "capture" / "docker-logs-t.txt"
    result = run_cli("report", "-i", str(capture), "-o", str(link), "--no-charts")
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "cannot write" in result.stderr
    assert target.read_bytes() == b"keep"


def test_tighten_says_what_it_did_and_only_when_needed(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    assert (
        tighten(folder, "folder")
        == f"folder {folder} was mode 0755; tightened to 0700 (it can hold secrets)"
    )
    assert mode(folder) == 0o700
    assert tighten(folder, "folder") is None
    assert tighten(tmp_path / "missing", "x") is None


def test_an_open_store_and_its_own_folder_are_tightened_with_notes(tmp_path):
    folder = tmp_path / ".claude-perf"
    with Store(folder / "claude-perf.db"):
        pass
    assert (mode(folder), mode(folder / "claude-perf.db")) == (0o700, 0o600)
    folder.chmod(0o755)
    (folder / "claude-perf.db").chmod(0o644)
    with Store(folder / "claude-perf.db", create=False) as store:
        notes = store.notes
    assert (mode(folder), mode(folder / "claude-perf.db")) == (0o700, 0o600)
    assert [n.split(" was mode ")[1] for n in notes] == [
        "0755; tightened to 0700 (it can hold secrets)",
        "0644; tightened to 0600 (it can hold secrets)",
    ]


def test_a_store_in_a_shared_folder_leaves_the_folder_alone(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with Store(shared / "x.db") as store:
        assert store.notes == []
    assert (mode(shared), mode(shared / "x.db")) == (0o777, 0o600)


def test_a_symlinked_store_is_refused(tmp_path):
    from claude_perf.errors import StoreError

    real = tmp_path / "real.db"
    with Store(real):
        pass
    link = tmp_path / "link.db"
    link.symlink_to(real)
    with pytest.raises(StoreError, match="is a symbolic link: refused"):
        Store(link)
