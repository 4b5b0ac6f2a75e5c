"""``search``: full-text search of the archived bulletins and their attachments (see :mod:`archive.search`).

A word matches when the title, the body or the text of an attachment contains it verbatim (Latin
case-insensitively); several words must all appear. A bulletin found through an attachment names
it (``attachment``: name and URL) and its snippet comes from the attachment's text. Any text is searched as plain text: quotes, ``*``, ``AND``, ``NEAR(`` and
parentheses mean nothing special. Matches are marked ``[…]`` (bold on a terminal); with
``--json`` each hit is one JSON object per line and the snippet marks matches with ``【…】``.
"""
from __future__ import annotations

import argparse
import json
import sys

from archive.schema import open_archive
from archive.search import (
    SORTS,
    Filters,
    QueryError,
    SearchHit,
    count_matches,
    index_status,
    mark,
    parse_query,
    search,
)
from archive.search.results import HIT_COLUMNS
from crawler.commands import refuse_unknown_values
from crawler.errors import CommandError
from crawler.output import inert, json_line

HELP = "search bulletins and their attachments for words (exact substrings; several words must all appear)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", metavar="QUERY", help="words to find, e.g. 督查 or '咸宁 2020年' "
                        "(put -- before a query starting with -)")
    parser.add_argument("--archive", default="data/archive.db", help="SQLite archive")
    parser.add_argument("--limit", type=int, default=20, metavar="N", help="at most N results (default 20)")
    parser.add_argument("--since", metavar="DATE", help="published on or after DATE (YYYY-MM-DD)")
    parser.add_argument("--until", metavar="DATE", help="published on or before DATE (YYYY-MM-DD)")
    parser.add_argument("--publisher", metavar="TEXT", help="publisher contains TEXT")
    parser.add_argument("--site", metavar="HOST", help="only this site (host name, with or without port)")
    parser.add_argument("--portal", metavar="NAME", help="only this portal (its short name, see 'sites')")
    parser.add_argument("--sort", choices=SORTS, default="relevance",
                        help="relevance (bm25, default) or newest first")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per line: the bulletin's columns (url, title, published, "
                             "publisher, site, index_no, doc_no, …), attachment ({name, url} of the file "
                             "that matched, or null), snippet (【】 marks), score")


def run(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise CommandError(f"--limit must be at least 1, not {args.limit}", 2)
    try:  # validate before touching the archive, so bad input is always exit 2
        parsed = parse_query(args.query)
        filters = Filters.make(args.since, args.until, args.publisher, args.site, args.portal)
    except QueryError as error:
        raise CommandError(str(error), 2) from None
    db = open_archive(args.archive, read_only=True)
    refuse_unknown_values(db, site=filters.site, portal=filters.portal, publisher=filters.publisher)
    status = index_status(db)
    if not status.in_sync:
        print(f"warning: the search index covers {status.indexed} of {status.rows} bulletins; "
              "run 'python -m crawler reindex'", file=sys.stderr)
    where = dict(since=args.since, until=args.until, publisher=args.publisher, site=args.site, portal=args.portal)
    limit = min(args.limit, sys.maxsize)  # any larger is "all" (and more than a slice can take)
    hits = search(db, args.query, limit=limit, sort=args.sort, **where)
    if not hits:
        hint = ""
        if parsed.quoted and parsed.unquoted():  # quotes are searched as text, unlike in web engines
            hint = (f"; quotation marks are searched as text (every word is already an exact phrase):"
                    f" try {parsed.unquoted()!r}")
        print(f"no bulletins match {args.query.strip()!r}{hint}", file=sys.stderr if args.json else sys.stdout)
        return 0
    for number, hit in enumerate(hits, 1):
        print(_json(hit) if args.json else _text(number, hit, sys.stdout.isatty()))
    if sys.stdout.isatty() and len(hits) == limit and (total := count_matches(db, args.query, **where)) > limit:
        # for a reader (a pipe or a script gets the results alone); after them, as a terminal shows both
        sys.stdout.flush()
        print(f"{limit} of {total} bulletins shown (best first, or newest with --sort newest); "
              f"--limit {total} shows them all", file=sys.stderr)
    return 0


def _json(hit: SearchHit) -> str:
    record = {"url": hit.url, "title": hit.title}
    record.update((name, getattr(hit, name)) for name in HIT_COLUMNS if name not in record)
    try:
        record["attachments"] = json.loads(hit.attachments or "[]")
    except ValueError:  # stored text that is not JSON: shown as it is
        pass
    record.update(attachment=hit.attachment, snippet=hit.marked_snippet, score=hit.score)
    return json_line(record)


def _text(number: int, hit: SearchHit, terminal: bool) -> str:
    marks = ("\x1b[1m", "\x1b[0m") if terminal else ("[", "]")
    # Control characters are replaced one for one, so the marks' offsets stay valid.
    title = mark(inert(hit.title), hit.title_marks, *marks) or "(untitled)"
    snippet = mark(inert(hit.snippet), hit.snippet_marks, *marks)
    found_in = ""
    if hit.attachment is not None:
        found_in = f"   附件 (attachment): {inert(hit.attachment['name'] or '')} <{inert(hit.attachment['url'] or '')}>\n"
    return f"{number}. {title}  ({inert(hit.published) or 'no date'})\n   {inert(hit.url)}\n{found_in}   {snippet}\n"
