"""Files the tool writes privately: never through a symlink, mode 0600, folders 0700.

Logs can hold secrets, and so can what is made from them (store, bundles, CSV, reports). A new
file is created with ``O_CREAT | O_EXCL | O_NOFOLLOW`` (nothing can be swapped in under its name
between a check and the open); an existing one is opened with ``O_NOFOLLOW`` (a symlink planted
at the name is refused, ELOOP), must be a regular file, and is tightened to 0600 when it was more
open. Folders the tool creates are 0700; ``tighten`` narrows an existing file or folder of the
tool's own and says so in a note. Raises OSError, which callers turn into their typed errors.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def make_private_dirs(folder: Path) -> None:
    """Create `folder` and its missing parents with mode 0700 (existing ones are left alone)."""
    missing = []
    for parent in (folder, *folder.parents):
        if parent.exists():
            break
        missing.append(parent)
    for parent in reversed(missing):
        try:
            parent.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(parent, DIR_MODE)  # mkdir's mode is masked by the umask


def open_private(path: Path, append: bool = False) -> int:
    """A descriptor writing `path` (truncated unless `append`): 0600, never via a symlink."""
    flags = os.O_WRONLY | _NOFOLLOW | _CLOEXEC | (os.O_APPEND if append else 0)
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        fd = os.open(path, flags | (0 if append else os.O_TRUNC))
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise OSError(f"{path} is not a regular file") from None
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.fchmod(fd, FILE_MODE)
        return fd
    os.fchmod(fd, FILE_MODE)  # the umask could only narrow it; set it exactly
    return fd


def write_private(path: Path, data: bytes) -> Path:
    """Write `data` to `path` (its folder made 0700 when missing): 0600, never via a symlink."""
    make_private_dirs(path.parent)
    with os.fdopen(open_private(path), "wb") as handle:
        handle.write(data)
    return path


def write_private_text(path: Path, text: str) -> Path:
    """``write_private`` for UTF-8 text."""
    return write_private(path, text.encode("utf-8"))


def tighten(path: Path, what: str) -> str | None:
    """Narrow an existing file to 0600 or folder to 0700 when group or others have any access;
    the note saying so, or None when it was private already (or is not there)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        return None
    wanted = DIR_MODE if stat.S_ISDIR(info.st_mode) else FILE_MODE
    mode = stat.S_IMODE(info.st_mode)
    if not mode & 0o077:
        return None
    os.chmod(path, wanted)  # lstat said it is no symlink (Linux has no lchmod)
    return f"{what} {path} was mode {mode:04o}; tightened to {wanted:04o} (it can hold secrets)"
