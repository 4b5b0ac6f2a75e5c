"""Where an archive keeps what is not in its SQLite file: WARC captures and attachment files.

Readers (``serve``) find the raw bytes through these, so the folder layout is written down once.
"""
from __future__ import annotations

from pathlib import Path

CAPTURES = "captures"
FILES = "files"


def archive_folder(db_path: str | Path) -> Path:
    """The folder holding the database file, its captures and its files."""
    return Path(db_path).absolute().parent


def capture_file(db_path: str | Path, warc_file: str) -> Path | None:
    """The WARC file named in ``captures.warc_file``; None for a name that is not a plain file name."""
    if not warc_file or Path(warc_file).name != warc_file or warc_file in (".", ".."):
        return None
    return archive_folder(db_path) / CAPTURES / warc_file


def attachment_file(db_path: str | Path, stored_path: str) -> Path | None:
    """The file of ``attachments.path`` (relative to the archive's folder, under ``files/``);
    None when the stored path would lead anywhere else."""
    if not stored_path:
        return None
    files = archive_folder(db_path) / FILES
    path = (archive_folder(db_path) / stored_path).resolve()
    return path if path.is_relative_to(files.resolve()) else None
