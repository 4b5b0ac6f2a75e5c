"""Portals in the archive: which portal each host belongs to, and each portal's verdict per run.

``bulletins.portal`` is a function of ``bulletins.site`` (the host): the portal's short name
in the registry, else the host itself. The crawl records the mapping of the hosts it crawls
(``portal_hosts``) before it stores anything, so every stored row gets its portal; a host
moved to another portal (a registry renamed) moves its rows with it.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import sqlite_utils

from archive.schema import upsert_row


def record_portal_hosts(db: sqlite_utils.Database, names: Mapping[str, str]) -> None:
    """Remember ``host -> portal``; rows of those hosts take the portal's name."""
    with db.atomic():
        for host, portal in names.items():
            upsert_row(db, "portal_hosts", {"host": host, "portal": portal}, ("host",))
            db.execute("update bulletins set portal = ? where site = ? and portal is not ?",
                       [portal, host, portal])


def portal_of_site(db: sqlite_utils.Database, site: str) -> str:
    """The portal of host ``site``: its recorded name, else the host."""
    row = db.execute("select portal from portal_hosts where host = ?", [site]).fetchone()
    return row[0] if row else site


def record_portal_runs(db: sqlite_utils.Database, run_id: int, verdicts: Mapping[str, list[str]]) -> None:
    """Each portal's verdict in run ``run_id`` (no problems: ``ok``) with what the run did there.

    Counts come from the archive: bulletins of the portal, versions first seen (new) or
    seen again changed in the run's captures, and the run's failures on the portal's hosts.
    """
    errors = dict(db.execute("""
        select coalesce(h.portal, '?'), count(*) from run_failures f
        left join portal_hosts h on lower(f.url) like 'http://' || h.host || '/%'
                                 or lower(f.url) like 'https://' || h.host || '/%'
        where f.run_id = ? group by h.portal""", [run_id]).fetchall())
    with db.atomic():
        for portal, problems in verdicts.items():
            bulletins, new, changed = db.execute("""
                select (select count(*) from bulletins where portal = :portal),
                       count(case when first then 1 end), count(case when not first then 1 end)
                from (select v.id = (select min(id) from versions where url = v.url) as first
                      from versions v join captures c on c.id = v.capture_id
                      join bulletins b on b.url = v.url
                      where c.run_id = :run and b.portal = :portal)""",
                {"portal": portal, "run": run_id}).fetchone()
            upsert_row(db, "portal_runs", {
                "run_id": run_id, "portal": portal, "outcome": "failed" if problems else "ok",
                "problems": json.dumps(problems, ensure_ascii=False), "bulletins": bulletins,
                "new": new, "changed": changed, "errors": errors.get(portal, 0),
            }, ("run_id", "portal"))


def last_portal_runs(db: sqlite_utils.Database, portals: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The latest ``portal_runs`` row of each of ``portals`` that has one, with its run's times."""
    result: dict[str, dict[str, Any]] = {}
    for portal in portals:
        row = next(db.query("""
            select p.*, r.started_at, r.finished_at from portal_runs p
            left join crawl_runs r on r.id = p.run_id
            where p.portal = ? order by p.run_id desc limit 1""", [portal]), None)
        if row is not None:
            row["problems"] = json.loads(row["problems"] or "[]")
            result[portal] = row
    return result
