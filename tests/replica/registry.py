"""The replica's portals as a registry (``sites.toml``) for ``crawl --sites PATH --all-sites``.

Each portal is a replica server of its own (its own ``127.0.0.1:PORT`` host), serving one
or more template families as its supervision columns.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

from .server import ReplicaPortal

#: portal name -> (region, families it serves as its columns).
PORTALS: dict[str, tuple[str, tuple[str, ...]]] = {
    "xianning": ("咸宁市", ("xianning",)),
    "twocolumns": ("模拟市", ("table", "gbk")),
    "scripted": ("仿真县", ("scripted-count",)),
}


@contextmanager
def replica_portals(per_family: int = 10, seed: int = 5,
                    portals: Mapping[str, tuple[str, tuple[str, ...]]] = PORTALS) -> Iterator[dict[str, ReplicaPortal]]:
    """Start one replica server per portal; stop them all on exit."""
    with ExitStack() as stack:
        yield {name: stack.enter_context(ReplicaPortal(per_family=per_family, seed=seed, families=families))
               for name, (_region, families) in portals.items()}


def write_registry(path: Path, servers: Mapping[str, ReplicaPortal],
                   portals: Mapping[str, tuple[str, tuple[str, ...]]] = PORTALS) -> Path:
    """A registry standing alone (``extends_shipped = false``: no live portal) of ``servers``."""
    lines = ["extends_shipped = false", ""]
    for name, server in servers.items():
        urls = ", ".join(f'"{column.start_url}"' for column in server.columns.values())
        lines += [f"[sites.{name}]", f'region = "{portals[name][0]}"', f"start_urls = [{urls}]", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
