"""Datasette metadata for a served archive: titles, table facets, hidden index tables.

The search functions, the ``search`` canned query and the search page live in
:mod:`archive.datasette_plugin`; this is presentation only.
"""
from __future__ import annotations

from archive.search import FTS_TABLE, META_TABLE

#: Tables whose rows mean nothing to a reader (FTS5 internals, bookkeeping).
HIDDEN_TABLES = (
    FTS_TABLE, f"{FTS_TABLE}_config", f"{FTS_TABLE}_data", f"{FTS_TABLE}_docsize",
    f"{FTS_TABLE}_idx", f"{FTS_TABLE}_content", META_TABLE,
)

#: Datasette settings for ``serve`` (see https://docs.datasette.io/en/0.65/settings.html).
SETTINGS = {
    "suggest_facets": False,       # suggestions cost queries on every table page
    "allow_download": False,       # no whole-database download (it can be gigabytes)
    "sql_time_limit_ms": 5000,     # search functions run in Python for every candidate row
    "facet_time_limit_ms": 1000,
    "default_facet_size": 20,
}


def metadata(database: str, *, search_path: str = "/-/search") -> dict:
    """Metadata for an archive served under the database name ``database``."""
    return {
        "title": "政务督查 archive",
        "description_html": (
            f'Supervision bulletins (政务督查) archived by zwdc-archive. '
            f'<a href="{search_path}">Search the bulletins</a> (exact Chinese words), or browse '
            f'the <code>bulletins</code> table with facets.'
        ),
        "databases": {
            database: {
                "tables": {
                    "bulletins": {
                        "facets": ["publisher", "category", {"year": "published"}, "site", "portal"],
                        # No default sort_desc on published: Datasette 0.65 orders the first
                        # page of a non-unique sort without the primary-key tie-breaker that
                        # later pages use, so CSV streams and _next walks skip and repeat rows.
                        "label_column": "title",
                        "description": (
                            "One row per bulletin. Add ?_q=WORDS to keep only those whose title "
                            "or body contains every word (the CLI's search semantics)."),
                    },
                    **{name: {"hidden": True} for name in HIDDEN_TABLES},
                },
            },
        },
    }
