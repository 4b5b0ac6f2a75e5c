"""Chinese full-text search over the archive: exact substring semantics on a bigram FTS5 index.

A query word matches a bulletin exactly when its title, body or the text of one of its attachments
contains it as a substring (Latin case-insensitively); words separated by whitespace must all
match. By concern:

* :mod:`~archive.search.tokens`: how text becomes index tokens (runs, bigrams, case folding);
* :mod:`~archive.search.query`: a user query as words and FTS5 phrases, and row filters;
* :mod:`~archive.search.index`: keeping the index in step with ``bulletins``;
* :mod:`~archive.search.planner`: which rows may match, in which order, at bounded cost;
* :mod:`~archive.search.snippets`: snippets and match marks cut from the original text;
* :mod:`~archive.search.results`: :func:`search`, the hits a user sees.

The names below are the package's interface (the command line, the web search, export).
"""
from __future__ import annotations

from archive.search.index import (
    BULLETIN_ROWID,
    FTS_TABLE,
    META_TABLE,
    SCHEME,
    IndexStatus,
    PendingIndex,
    attachment_text,
    ensure_search_shape,
    index_attachments,
    index_bulletin,
    index_status,
    rebuild_index,
)
from archive.search.planner import (
    ATTACHMENT_WEIGHT,
    RANK_SQL,
    SORTS,
    TITLE_WEIGHT,
    attachment_texts,
    count_matches,
    known_filter_values,
    matching_rowids,
)
from archive.search.query import (
    MAX_QUERY_CHARS,
    Filters,
    ParsedQuery,
    QueryError,
    QueryWord,
    contains_sql,
    parse_query,
)
from archive.search.results import SearchHit, search
from archive.search.snippets import MARK_CLOSE, MARK_OPEN, SNIPPET_CHARS, Span, cut_snippet, mark
from archive.search.tokens import fold, tokenize_for_index

__all__ = [
    "ATTACHMENT_WEIGHT", "RANK_SQL", "attachment_text", "attachment_texts", "contains_sql", "index_attachments",
    "BULLETIN_ROWID", "FTS_TABLE", "MARK_CLOSE", "MARK_OPEN", "MAX_QUERY_CHARS", "META_TABLE", "SCHEME", "SNIPPET_CHARS",
    "SORTS", "TITLE_WEIGHT", "Filters", "IndexStatus", "ParsedQuery", "PendingIndex", "QueryError",
    "QueryWord", "SearchHit", "Span", "count_matches", "cut_snippet", "ensure_search_shape", "fold",
    "index_bulletin", "index_status", "known_filter_values", "mark", "matching_rowids", "parse_query",
    "rebuild_index", "search", "tokenize_for_index",
]
