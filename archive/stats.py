"""Figures about an archive: counts, date range and how often each field is filled."""
from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from archive.schema import CONTENT_COLUMNS

#: Columns whose coverage is reported: the document's own fields, not bookkeeping.
COVERAGE_COLUMNS = CONTENT_COLUMNS


@dataclass
class SiteStats:
    site: str
    portal: str | None
    bulletins: int
    first_published: str | None
    last_published: str | None
    filled: dict[str, int]


def archive_stats(db: sqlite_utils.Database, portal: str | None = None) -> list[SiteStats]:
    """One entry per site (of ``portal`` only, when given), in site order."""
    filled_sql = ", ".join(
        f"sum(coalesce({name}, '') not in ('', '[]')) as [{name}]" for name in COVERAGE_COLUMNS
    )
    rows = db.query(
        f"select site, portal, count(*) as n, min(published) as first, max(published) as last, "
        f"{filled_sql} from bulletins {'where portal = ?' if portal is not None else ''} "
        f"group by site order by site", [portal] if portal is not None else [],
    )
    return [
        SiteStats(
            site=row["site"],
            portal=row["portal"],
            bulletins=row["n"],
            first_published=row["first"],
            last_published=row["last"],
            filled={name: row[name] for name in COVERAGE_COLUMNS},
        )
        for row in rows
    ]
