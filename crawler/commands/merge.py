"""``merge``: bring other archives (the workers of a distributed crawl) into one.

Copies each source's runs, captures with their WARC files, attachment files and failures into
the target (:mod:`archive.merge`), then ingests the copied captures there: bulletins, versions,
search index, items and attachments are built by the same path as a crawl's. Idempotent: a
run already merged is skipped.
"""
from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack

from tqdm import tqdm

from archive.layout import ArchiveLayout
from archive.lock import ArchiveBusy, ArchiveLock
from archive.merge import Source, carry_removals, copy_sources
from archive.schema import ArchiveMissing
from archive.store import mark_killed_runs
from crawler.errors import CommandError
from crawler.sites import load_registry

HELP = "merge archives (e.g. the workers of a distributed crawl) into one, without duplicates"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--archive", required=True, metavar="TARGET", help="the archive merged into (created if missing)")
    parser.add_argument("--sites", metavar="PATH", default=None,
                        help="a registry file adding portals (and their profiles) to the shipped sites.toml")
    parser.add_argument("sources", nargs="+", metavar="SOURCE.db", help="archives to merge into it")


def run(args: argparse.Namespace) -> int:
    from crawler.attachments_ingest import read_texts, texts_summary  # extraction's imports only when used
    from crawler.ingest import Ingest, open_for_ingest

    profiles = load_registry(args.sites).profiles()  # the portals' body containers and labels
    target = ArchiveLayout.of(args.archive)
    paths = list(dict.fromkeys(ArchiveLayout.of(path).db for path in args.sources))
    if target.db in paths:
        raise CommandError(f"cannot merge {args.archive} into itself", exit_code=2)
    for path in paths:
        if not path.is_file():
            raise ArchiveMissing(f"no archive at {path}")
    with ExitStack() as stack:
        try:
            stack.enter_context(ArchiveLock(target.db, "merge"))
            for path in paths:  # no crawl may be writing a source while it is read
                stack.enter_context(ArchiveLock(path, "merge"))
        except ArchiveBusy as busy:
            raise CommandError(str(busy), exit_code=75) from None
        sources = [stack.enter_context(Source.open(path)) for path in paths]
        db = open_for_ingest(target.db)
        try:
            counts = copy_sources(db, target, sources)
            mark_killed_runs(db)
            ready = db.execute("select count(*) from captures where ingest_state = 'ready'").fetchone()[0]
            with tqdm(total=ready, unit="capture", desc="ingesting", disable=not sys.stderr.isatty()) as bar:
                ingested = Ingest(db, target, progress=bar.update, profiles=profiles).ready()
            texts = read_texts(db, target)
            carried = carry_removals(db, sources)
        finally:
            db.close()
    print(f"merged {len(sources)} archive(s) into {args.archive}: {counts.runs} run(s), "
          f"{counts.captures} capture(s), {counts.warc_files} WARC file(s), {counts.files} file(s) copied "
          f"({counts.skipped_runs} run(s) merged before); {ingested} capture(s) ingested"
          + (f"; {carried} removal mark(s) carried" if carried else "") + texts_summary(texts))
    return 0
