"""``serve``: the archive's reading room over Datasette, read-only.

Pages (:mod:`archive.web`, Chinese first, ``?lang=en``): ``/`` (search and the portals),
``/-/search?q=督查&since=…`` (the CLI's search and filters, with ``.csv``/``.json`` downloads),
``/-/bulletin?url=…``, ``/-/items``, ``/-/charts``; Datasette's own pages under ``/<db>``,
with the canned query ``/<db>/search?q=…`` and ``/<db>/bulletins?_q=…`` (the table filtered by a
search). See :mod:`archive.datasette_plugin`.

The archive is opened read-only: every connection Datasette makes uses ``mode=ro`` (SQLite refuses
writes), no plugin writes, and Datasette itself only runs SELECTs. A crawl may run meanwhile: WAL
readers see each committed state. ``--immutable`` instead checkpoints the WAL and opens the file
``immutable=1`` (no locking at all), holding the archive's crawl lock while it serves so no crawl
writes under it (a crawl then exits 75, as with another crawl running).
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import socket
import sqlite3
import sys
from pathlib import Path

from archive.lock import ArchiveBusy, ArchiveLock
from archive.schema import open_archive
from archive.search import index_status
from crawler.errors import CommandError

HELP = "read and search the archive in the browser: bulletins, items, charts (read-only web server)"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8001


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--archive", default="data/archive.db", help="SQLite archive")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to listen on (default {DEFAULT_HOST}: this machine only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--immutable", action="store_true",
                        help="serve a snapshot: checkpoint the WAL, open the file immutable and "
                             "hold the crawl lock meanwhile (crawls are refused while it serves)")


def check_path(path: Path) -> None:
    if not path.is_file():
        raise CommandError(f"no archive at {path} (run 'python -m crawler crawl' first)", 2)
    if any(char in str(path.absolute()) for char in "?#%"):  # Datasette opens it as a file: URI
        raise CommandError(f"{path}: a path with ?, # or % cannot be served (rename or link it)", 2)


def prepare_archive(path: Path, *, immutable: bool = False) -> None:
    """Check ``path`` is an archive and bring its shape (search index) up to date.

    Opening through :func:`open_archive` writes nothing when the archive is current; an old
    archive gets its new tables or a rebuilt index once, here, before anything is served.
    """
    check_path(path)
    try:
        db = open_archive(path, create=False)
        try:
            status = index_status(db)
            if not status.in_sync:
                print(f"warning: the search index covers {status.indexed} of {status.rows} "
                      "bulletins; run 'python -m crawler reindex'", file=sys.stderr)
            if immutable:
                _checkpoint(db.conn, path)
        finally:
            db.close()
    except sqlite3.DatabaseError as error:
        raise CommandError(f"{path}: not a usable archive ({error})", 2) from None


def _checkpoint(conn: sqlite3.Connection, path: Path) -> None:
    """Move the WAL into the database file: an immutable open ignores the ``-wal`` file."""
    busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        raise CommandError(f"{path} is in use by another process; serve without --immutable", 1)


def make_datasette(path: str | Path, *, immutable: bool = False, settings: dict | None = None):
    """A Datasette instance serving the archive at ``path`` read-only, with the project's plugin.

    ``settings`` override :data:`archive.datasette_metadata.SETTINGS` (Datasette settings).
    """
    # Imported here: every command's parser loads this module, and Datasette takes ~0.5 s.
    from datasette.app import Datasette  # first: it registers Datasette's own plugins
    from datasette.plugins import pm

    from datasette import handle_exception as datasette_errors  # imported earlier, it stays unregistered

    from archive import datasette_plugin
    from archive.datasette_metadata import SETTINGS, metadata

    if not pm.is_registered(datasette_plugin):
        pm.register(datasette_plugin, name="zwdc-archive")
    # With rich installed (the crawl's progress bars), Datasette prints every refused query
    # (a 400) as a traceback with locals: ~100 lines on stderr and seconds of CPU per request.
    # Its error pages stay as they are; only that printing is turned off.
    datasette_errors.rich = None
    path = str(Path(path).absolute())
    files = {"immutables": [path]} if immutable else {"files": [path]}
    name = Path(path).stem
    return Datasette(**files, metadata=metadata(name), settings={**SETTINGS, **(settings or {})})


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, or one line saying why not (port taken, unknown address)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise CommandError(f"cannot listen on {host}: {error.strerror}", 2) from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise CommandError(f"port {port} on {host} is already in use (choose another with --port)", 1) from None
        raise CommandError(f"cannot listen on {host}:{port}: {error.strerror or error}", 2) from None
    sock.set_inheritable(True)
    return sock


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise CommandError(f"--port must be 0-65535, not {args.port}", 2)
    path = Path(args.archive)
    check_path(path)  # before taking the lock, which would create a .lock file beside it
    with contextlib.ExitStack() as held:
        if args.immutable:  # no crawl may write under an immutable reader: hold the crawl lock
            try:
                held.enter_context(ArchiveLock(path))
            except ArchiveBusy as error:
                raise CommandError(f"{error}; serve without --immutable while it runs", 1) from None
        prepare_archive(path, immutable=args.immutable)
        return _serve(path, args)


def _serve(path: Path, args: argparse.Namespace) -> int:
    import uvicorn

    sock = bind(args.host, args.port)
    port = sock.getsockname()[1]
    ds = make_datasette(path, immutable=args.immutable)
    asyncio.run(ds.invoke_startup())
    url = _url(args.host, port)
    mode = "immutable snapshot" if args.immutable else "read-only"
    print(f"serving {path} ({mode}) at {url}\nsearch: {url}-/search   (Ctrl-C to stop)", flush=True)
    server = uvicorn.Server(uvicorn.Config(ds.app(), log_level="warning", lifespan="off"))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn stops gracefully, then re-raises Ctrl-C: a normal stop
        pass
    finally:
        sock.close()
    print("stopped", file=sys.stderr)
    return 0
