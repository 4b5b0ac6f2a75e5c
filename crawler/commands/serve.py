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
writes under it (a crawl then exits 75, as with another crawl running). An archive in a folder
this user cannot write (another user's) is served immutable as it is: no lock, no checkpoint.

It listens on 127.0.0.1 unless told otherwise. ``--public`` is for a port others reach (and
listens on every address unless ``--host`` says which): no arbitrary SQL (the pages, the
tables' filters and the canned queries only) and shorter time limits on every query, the
search page's included.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import ipaddress
import socket
import sqlite3
import sys
from pathlib import Path

from archive.lock import ArchiveBusy, ArchiveLock
from archive.schema import existing_archive, folder_writable, open_archive
from archive.search import index_status
from crawler.errors import CommandError

HELP = "read and search the archive in the browser: bulletins, items, charts (read-only web server)"
DEFAULT_HOST = "127.0.0.1"
PUBLIC_HOST = "0.0.0.0"
DEFAULT_PORT = 8001
#: Datasette settings of ``--public``: no SQL of the visitor's own, and every query cut short.
PUBLIC_SETTINGS = {
    "default_allow_sql": False,   # no ?sql= and no _where=: canned queries and filters only
    "sql_time_limit_ms": 2000,    # table pages, canned queries and the search page
    "facet_time_limit_ms": 500,
    "max_returned_rows": 1000,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--archive", default="data/archive.db", help="SQLite archive")
    parser.add_argument("--host", default=None,
                        help=f"address to listen on (default {DEFAULT_HOST}: this machine only; "
                             f"{PUBLIC_HOST} with --public)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--immutable", action="store_true",
                        help="serve a snapshot: checkpoint the WAL, open the file immutable and "
                             "hold the crawl lock meanwhile (crawls are refused while it serves)")
    parser.add_argument("--public", action="store_true",
                        help=f"for a port others reach: no arbitrary SQL, shorter query time limits "
                             f"(every page, search included); listens on {PUBLIC_HOST} unless --host")


def check_path(path: Path) -> None:
    if not path.is_file():
        raise CommandError(f"no archive at {path} (run 'python -m crawler crawl' first)", 2)
    if any(char in str(path.absolute()) for char in "?#%"):  # Datasette opens it as a file: URI
        raise CommandError(f"{path}: a path with ?, # or % cannot be served (rename or link it)", 2)


def prepare_archive(path: Path, *, immutable: bool = False) -> None:
    """Check ``path`` is an archive and bring its shape (search index) up to date.

    Opened read-only (an old archive is upgraded once, where it may be written); ``immutable``
    then checkpoints the WAL into the file, which is what an immutable reader sees.
    """
    check_path(path)
    db = open_archive(path, read_only=True)
    try:
        status = index_status(db)
        if not status.in_sync:
            print(f"warning: the search index covers {status.indexed} of {status.rows} "
                  "bulletins; run 'python -m crawler reindex'", file=sys.stderr)
    finally:
        db.close()
    if immutable:
        _checkpoint(path)


def _checkpoint(path: Path) -> None:
    """Move the WAL into the database file: an immutable open ignores the ``-wal`` file."""
    conn = sqlite3.connect(path)
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except sqlite3.DatabaseError as error:
        raise CommandError(f"{path}: cannot checkpoint for --immutable ({error})", 1) from None
    finally:
        conn.close()
    if busy:
        raise CommandError(f"{path} is in use by another process; serve without --immutable", 1)


def make_datasette(path: str | Path, *, immutable: bool = False, settings: dict | None = None):
    """A Datasette instance serving the archive at ``path`` read-only, with the project's plugin.

    ``settings`` override :data:`archive.datasette_metadata.SETTINGS` (Datasette settings).
    """
    # Imported here: every command's parser loads this module, and Datasette takes ~0.5 s.
    from datasette.app import Datasette  # first: importing it registers Datasette's own plugins
    from datasette.plugins import pm

    import datasette.handle_exception as datasette_errors  # after datasette.app (see above)

    from archive import datasette_plugin
    from archive.datasette_metadata import SETTINGS, metadata

    if not pm.is_registered(datasette_plugin):
        pm.register(datasette_plugin, name="zwdc-archive")
    # With ``rich`` installed, Datasette prints every error, a visitor's bad query included, with
    # all local variables: seconds of work in the server's only event loop, so one request
    # stalls every other. The error pages stay; the printing goes.
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
    existing_archive(path)
    host = args.host or (PUBLIC_HOST if args.public else DEFAULT_HOST)
    owned = folder_writable(path)
    if not owned:
        print(f"note: {path.absolute().parent} is not writable: serving {path} as an immutable "
              "snapshot, as it is now", file=sys.stderr)
    with contextlib.ExitStack() as held:
        if args.immutable and owned:  # no crawl may write under an immutable reader: hold the lock
            try:
                held.enter_context(ArchiveLock(path, "serve"))
            except ArchiveBusy as error:
                raise CommandError(f"{error}; serve without --immutable while it runs", 1) from None
        prepare_archive(path, immutable=args.immutable and owned)
        return _serve(path, host, args.port, immutable=args.immutable or not owned, public=args.public)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def _serve(path: Path, host: str, port: int, *, immutable: bool, public: bool) -> int:
    import uvicorn

    sock = bind(host, port)  # an address it cannot listen on is the one line said, no warning first
    port = sock.getsockname()[1]
    if not public and not _loopback(host):
        print(f"warning: {host} is reachable from other machines and anyone there may run any "
              "SQL query: add --public", file=sys.stderr)
    ds = make_datasette(path, immutable=immutable, settings=PUBLIC_SETTINGS if public else None)
    asyncio.run(ds.invoke_startup())
    url = _url(host, port)
    mode = ("immutable snapshot" if immutable else "read-only") + (", public" if public else "")
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
