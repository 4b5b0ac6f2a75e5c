"""The replica's portals as a registry (``sites.toml``) for ``crawl --sites PATH --all-sites``.

Each portal is a replica server of its own (its own ``127.0.0.1:PORT`` host) serving one or
more template families as its supervision columns: every default family is one portal's
column, and the second and third share a portal (a portal with two columns).
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from .server import ReplicaPortal
from .templates import make_families

#: Regions the replica's portals stand for, in order.
REGIONS = ("咸宁市", "黄石市", "鄂州市", "孝感市", "荆州市", "黄冈市", "随州市", "恩施州", "仙桃市", "潜江市",
           "天门市", "十堰市")


def portal_plan(families: Sequence[str] | None = None) -> dict[str, tuple[str, tuple[str, ...]]]:
    """``portal name -> (region, its families)`` for ``families`` (default: the default families)."""
    names = list(make_families(families))
    groups = [names[:1], names[1:3], *([name] for name in names[3:])] if len(names) > 2 else [[n] for n in names]
    return {re.sub(r"[^a-z0-9-]", "-", "-".join(group).lower()): (REGIONS[number % len(REGIONS)], tuple(group))
            for number, group in enumerate(groups) if group}


@contextmanager
def replica_portals(per_family: int = 10, seed: int = 5, families: Sequence[str] | None = None
                    ) -> Iterator[dict[str, ReplicaPortal]]:
    """Start one replica server per portal of :func:`portal_plan`; stop them all on exit."""
    with ExitStack() as stack:
        yield {name: stack.enter_context(ReplicaPortal(per_family=per_family, seed=seed, families=group))
               for name, (_region, group) in portal_plan(families).items()}


def write_registry(path: Path, servers: Mapping[str, ReplicaPortal]) -> Path:
    """A registry standing alone (``extends_shipped = false``: no live portal) of ``servers``."""
    regions = {name: region for name, (region, _group) in portal_plan().items()}
    lines = ["extends_shipped = false", ""]
    for number, (name, server) in enumerate(servers.items()):
        urls = ", ".join(f'"{column.start_url}"' for column in server.columns.values())
        region = regions.get(name, REGIONS[number % len(REGIONS)])
        lines += [f"[sites.{name}]", f'region = "{region}"', f"start_urls = [{urls}]", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
