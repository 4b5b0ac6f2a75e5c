"""What the user asked: a query split into words (each with its FTS5 phrase), and row filters.

A query word matches a bulletin exactly when its title, its body or the text of one of its
attachments contains the word as a substring (Latin case-insensitively, see
:func:`~archive.search.tokens.fold`); words separated by whitespace must all match, each
anywhere in the bulletin or its files. Nothing the user types is ever passed to ``MATCH`` or SQL unquoted.

A word without punctuation becomes one phrase of its bigrams (``常务会议`` → ``"常务" + "务会" +
"会议"``; ``督`` → ``"督"*`` through the 1-character prefix index) that matches exactly the
bulletins containing it. A word with punctuation or symbols (``1.6436亿元``) is looked up by the
phrase of its longest run (a superset) and then checked: with SQL ``instr`` on the raw text when
the word has no letter case (exact, as folding cannot touch it), else in Python on the folded
text. A word with no letters or digits at all (``（``) can only be found by a scan.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from archive.search.tokens import RUN, bigrams, fold, folded_for

#: Longest query accepted (after stripping surrounding whitespace): a bulletin's whole title
#: pasted (often 40-80 characters), or several words; the benchmarks time queries of up to 30.
MAX_QUERY_CHARS = 100
#: Quotation marks people put around a phrase; to the search they are text like any other.
QUOTES = "\"'“”‘’「」『』"


class QueryError(ValueError):
    """The query or a filter cannot be searched (empty, too long, bad date); the message says why."""


def _phrase(run: str, ends_run: bool) -> str:
    """FTS5 phrase for a run of the query; ``ends_run`` when punctuation follows it in the query."""
    tokens = bigrams(run) + ([run[-1]] if ends_run else [])
    if not tokens:  # one character that may be followed by more: any token starting with it
        return f'"{run}"*'
    return " + ".join(f'"{token}"' for token in tokens)


@dataclass(frozen=True)
class QueryWord:
    """One whitespace-separated word of a query, folded, and how to find it."""

    text: str
    #: FTS5 phrase every bulletin containing the word matches; None when it has no letters/digits.
    phrase: str | None
    #: What must still be checked: "" nothing (the phrase is exact), "sql" the raw text with
    #: instr (exact for a word without case), "python" the folded text.
    check: str
    #: The tokens of ``phrase`` (bigrams, a lone last character, or a 1-character prefix).
    tokens: tuple[str, ...] = ()


def _parse_word(word: str) -> QueryWord:
    runs = list(RUN.finditer(word))
    if len(runs) == 1 and runs[0].group() == word:
        return QueryWord(word, _phrase(word, False), "", tuple(bigrams(word)) or (word,))
    # Punctuation inside: the longest run's phrase narrows the candidates (more phrases would
    # cost more than they filter), the substring check does the rest.
    longest = max(runs, key=lambda m: len(m.group()), default=None)
    caseless = word.isprintable() and word.lower() == word.upper()
    if longest is None:
        return QueryWord(word, None, "sql" if caseless else "python")
    run, ends_run = longest.group(), longest.end() < len(word)
    tokens = tuple(bigrams(run) + ([run[-1]] if ends_run else [])) or (run,)
    return QueryWord(word, _phrase(run, ends_run), "sql" if caseless else "python", tokens)


@dataclass(frozen=True)
class ParsedQuery:
    """A query split into words, with its FTS5 expression and the checks it still needs."""

    text: str
    words: tuple[QueryWord, ...]

    @property
    def match(self) -> str:
        """FTS5 ``MATCH`` expression; ``""`` when no word has letters or digits (scan instead)."""
        return " AND ".join(dict.fromkeys(w.phrase for w in self.words if w.phrase))

    @property
    def exact(self) -> bool:
        """True when SQL alone selects exactly the matches (no check in Python needed)."""
        return all(w.check != "python" for w in self.words)

    @property
    def needles(self) -> tuple[str, ...]:
        return tuple(w.text for w in self.words)

    def matches(self, title: str | None, body: str | None, attachments: str | None = None) -> bool:
        """The definition of a match, checked on the original text (``attachments``: their texts)."""
        return not self.missing(title, body, attachments)

    def missing(self, *texts: str | None) -> tuple[str, ...]:
        """The words none of ``texts`` contains."""
        needles = self.needles
        folded = [folded_for(text or "", needles) for text in texts]
        return tuple(n for n in needles if not any(n in text for text in folded))

    @property
    def quoted(self) -> bool:
        """Whether a word carries quotation marks (searched as text: rarely what was meant)."""
        return any(c in QUOTES for c in self.text)

    def unquoted(self) -> str:
        """The query without its quotation marks (every word is already an exact phrase)."""
        return " ".join("".join(c for c in self.text if c not in QUOTES).split())


def parse_query(query: str) -> ParsedQuery:
    """Split and validate a user query; raises :class:`QueryError` when empty or too long."""
    stripped = (query or "").strip()
    if not stripped:
        raise QueryError("empty query")
    if len(stripped) > MAX_QUERY_CHARS:
        raise QueryError(
            f"query too long: {len(stripped)} characters (at most {MAX_QUERY_CHARS})"
        )
    words = dict.fromkeys(fold(stripped).split())
    return ParsedQuery(stripped, tuple(_parse_word(w) for w in words))


def _iso_day(value: str | date | None, name: str) -> str | None:
    if value is None or isinstance(value, date):  # a datetime is a date too: keep the day
        return value.strftime("%Y-%m-%d") if value else None
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise QueryError(f"{name}: not a date (YYYY-MM-DD): {value!r}") from None


def _text(value: str | None, name: str) -> str | None:
    """A filter value SQLite can bind (a command line can carry undecodable bytes)."""
    if value and not value.isprintable():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise QueryError(f"{name}: not valid text: {value!r}") from None
    return value or None


def contains_sql(table: str, needle: str) -> str:
    """SQL true when bulletin ``table`` (a name or alias of ``bulletins``) or one of its attachments
    contains the text bound to ``needle`` (``?`` or ``:name``), case-sensitively (``instr``)."""
    return (f"(instr({table}.title, {needle}) > 0 OR instr({table}.body, {needle}) > 0 OR EXISTS ("
            f"SELECT 1 FROM attachments WHERE attachments.bulletin_url = {table}.url"
            f" AND instr(attachments.text, {needle}) > 0))")


def site_condition(column: str, site: str) -> tuple[str, list[object]]:
    """SQL matching ``site`` in ``column`` (a netloc): exactly, or any port of a host given without one."""
    if site.endswith("]") or ":" not in site:  # a host without port (IPv6 in brackets included)
        return (f"({column} = ? OR substr({column}, 1, ?) = ?)",
                [site, len(site) + 1, f"{site}:"])
    return f"{column} = ?", [site]


@dataclass(frozen=True)
class Filters:
    """Row filters: published date range (inclusive), publisher substring, site (host, any port),
    portal (its short name, exact)."""

    since: str | None = None
    until: str | None = None
    publisher: str | None = None
    site: str | None = None
    portal: str | None = None

    @classmethod
    def make(
        cls,
        since: str | date | None = None,
        until: str | date | None = None,
        publisher: str | None = None,
        site: str | None = None,
        portal: str | None = None,
    ) -> Filters:
        """Validate and normalise; raises :class:`QueryError` for bad or inverted dates."""
        made = cls(_iso_day(since, "since"), _iso_day(until, "until"),
                   _text(publisher, "publisher"), _text(site, "site"), _text(portal, "portal"))
        if made.since and made.until and made.since > made.until:
            raise QueryError(f"since ({made.since}) is after until ({made.until})")
        return made

    def sql(self) -> tuple[str, list[object]]:
        """``AND …`` conditions on table ``bulletins`` with their parameters."""
        where, params = "", []
        for sql, value in (("bulletins.published >= ?", self.since),
                           ("bulletins.published <= ?", self.until),
                           ("instr(bulletins.publisher, ?) > 0", self.publisher),
                           ("bulletins.portal = ?", self.portal)):
            if value is not None:
                where += f" AND {sql}"
                params.append(value)
        if self.site is not None:
            sql, values = site_condition("bulletins.site", self.site)
            where += f" AND {sql}"
            params += values
        return where, params
