"""Where an archive keeps its files: ``x.db`` with ``x.captures/`` and ``x.files/`` beside it.

Each archive has folders of its own, named after its database file, so two archives in one
folder never mix, and moving or deleting one is ``mv x.*`` / ``rm -r x.*``. The path given is
resolved first (a symlink to an archive is that archive, with one lock and one set of folders).

Archives from before this layout kept ``captures/`` and ``files/`` beside the database; they
are read where they are: a WARC file missing from ``x.captures/`` is looked up in
``captures/``, and ``attachments.path`` is relative to the database's folder either way
(``x.files/ab/….pdf`` or ``files/ab/….pdf``). New captures and files always go to the
archive's own folders.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

_LEGACY_CAPTURES = "captures"


@dataclass(frozen=True)
class ArchiveLayout:
    """The paths of one archive, from its database file (symlinks resolved)."""

    db: Path

    @classmethod
    def of(cls, path: str | Path) -> "ArchiveLayout":
        return cls(Path(path).expanduser().resolve())

    @property
    def folder(self) -> Path:
        """The folder holding the database: ``attachments.path`` is relative to it."""
        return self.db.parent

    @property
    def captures(self) -> Path:
        """The run's WARC files."""
        return self.db.with_name(f"{self.db.stem}.captures")

    @property
    def files(self) -> Path:
        """Attachment files by content hash."""
        return self.db.with_name(f"{self.db.stem}.files")

    @property
    def lock(self) -> Path:
        return self.db.with_name(f"{self.db.name}.lock")

    def warc(self, name: str) -> Path:
        """The WARC file ``name`` of a ``captures`` row: the archive's folder, else the old shared one."""
        own = self.captures / name
        if own.exists():
            return own
        legacy = self.folder / _LEGACY_CAPTURES / name
        return legacy if legacy.exists() else own

    def file_path(self, stored: str) -> str:
        """``attachments.path`` of a file stored as ``stored`` (``ab/<sha256>.pdf``) in ``files``."""
        return f"{self.files.name}/{stored}"

    def remove_if_unused(self) -> None:
        """Remove the database and its folders: a run that failed before capturing anything
        leaves no trace of an archive it created (the folders only if empty)."""
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.db}{suffix}").unlink(missing_ok=True)
        for folder in (self.captures, self.files):
            if folder.is_dir() and not any(folder.iterdir()):
                shutil.rmtree(folder, ignore_errors=True)
