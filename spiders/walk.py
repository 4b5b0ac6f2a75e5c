"""One column's walk over its list pages: what was asked, read, failed, guessed; its report.

Each start URL is its own column with its own verdict (issue #12): list pages read of those
its pager announced, entries listed, bulletins stored, failures. The walk also bounds the
work a hostile or broken pager can cause (issue #14): at most ``LIST_PAGES_MAX`` list pages
per column, and a page that only repeats entries of earlier pages (an endless 下一页 loop) is
not followed further. Both are reported as problems of the column, never silently.

The report is a plain dict kept in the crawl's stats under ``columns`` (start URL -> report),
so it lands in ``crawl_runs.stats`` and ``crawler.health`` judges it.
"""
from __future__ import annotations

from typing import Any

from spiders.pagination import PageGuess, Pager

#: Default ceiling on list pages read per column (setting ``LIST_PAGES_MAX``).
LIST_PAGES_MAX = 1000
#: Unread announced pages named in a report (the count is always given).
NAMED_UNREAD = 5

#: Signal sent by the spider for each list page it read (``start_url``, ``url``, ``pages``:
#: pages it covers, ``links``: its entries, ``request``: the request it answered). A crawl
#: shared by several processes counts them crawl-wide (``crawler.distributed``): one process's
#: walk sees only the pages it fetched.
list_page_read = object()
#: Signal sent by the spider when it has judged a start page (``start_url``): read, or failed. In
#: a shared crawl the worker that took the page from the queue judges it; the others learn from
#: Redis that it was judged (``crawler.distributed``).
start_page_judged = object()


class ColumnWalk:
    """The state of one column's list pages during a run."""

    def __init__(self, start_url: str, column: str, cap: int = LIST_PAGES_MAX) -> None:
        self.start_url = start_url
        self.column = column
        self.cap = max(1, cap)
        #: list URLs requested (plain or rendered), in order.
        self.requested: dict[str, None] = {}
        self.entries: set[str] = set()
        #: the entries of the column's first page (a link back to it under another URL is no loop).
        self.first_entries: frozenset[str] | None = None
        #: Where the first page read had its list (``spiders.listing.list_place``): the further
        #: pages' lists are taken there.
        self.list_place: str | None = None
        #: the script's page lists, the one being checked first; None once settled.
        self.guesses: tuple[PageGuess, ...] = ()
        self.guess_state = "none"  # none | probing | confirmed | failed
        self.confirmed: PageGuess | None = None
        self.report: dict[str, Any] = {
            "column": column, "pagination": "none", "announced": None, "pages_read": 0,
            "pages_failed": {}, "pages_unread": [], "entries": 0, "endpoint": None,
            "bulletins": 0, "not_bulletins": 0, "bulletins_failed": 0, "known": 0, "problems": [],
        }

    # --- what the pager says ----------------------------------------------------------
    def saw_pager(self, pager: Pager) -> None:
        if pager.kind != "none" and self.report["pagination"] in ("none", "links"):
            self.report["pagination"] = pager.kind
        if pager.announced and (self.report["announced"] or 0) < pager.announced:
            self.report["announced"] = pager.announced
        if pager.guesses and self.guess_state == "none":
            self.guesses = pager.guesses
            for guess in pager.guesses:  # a link already shows which naming is right
                if guess.probe in pager.links:
                    self.confirm(guess)
                    break

    def next_probe(self) -> str | None:
        """The next naming to check, or None when none is left (then the walk reports it)."""
        if self.guess_state in ("confirmed", "failed") or not self.guesses:
            return None
        self.guess_state = "probing"
        return self.guesses[0].probe

    def adopt(self, guesses: tuple[PageGuess, ...]) -> None:
        """The guesses a probe carries, when this walk made none: in a crawl shared by several
        processes, the one reading a probe may not be the one that read the pager script."""
        if self.guess_state == "none" and not self.guesses and guesses:
            self.guesses, self.guess_state = tuple(guesses), "probing"

    def guess_failed(self, probe: str, why: str) -> str | None:
        """A guessed page that 404s or repeats earlier pages: the other naming, if any."""
        if self.guess_state == "confirmed":
            return None  # settled already: this probe's naming was not the one
        self.guesses = tuple(g for g in self.guesses if g.probe != probe)
        if self.guesses:
            return self.guesses[0].probe
        self.guess_state = "failed"
        self.problem(f"its pager script announces {self.report['announced']} pages, but no naming of "
                     f"them answered ({why} at {probe})")
        return None

    def confirm(self, guess: PageGuess) -> None:
        self.confirmed, self.guess_state, self.guesses = guess, "confirmed", ()

    def ordered_pages(self, after: str, pager: Pager) -> list[str]:
        """Pages known after ``after``, likeliest next first."""
        pages: dict[str, None] = {}
        if pager.next_url:
            pages[pager.next_url] = None
        if self.confirmed is not None:
            urls = self.confirmed.urls
            start = urls.index(after) + 1 if after in urls else 0
            pages.update(dict.fromkeys(urls[start:]))
        pages.update(dict.fromkeys(pager.links))
        return [url for url in pages if url not in self.requested and url != after]

    # --- bounded requests -------------------------------------------------------------
    def may_request(self, url: str) -> bool:
        """Whether ``url`` is a new list page within the cap (a cap reached is reported once)."""
        if url in self.requested or self.stopped:
            return False
        if len(self.requested) >= self.cap:
            if not self.report.get("capped"):
                self.report["capped"] = True
                self.problem(f"stopped after {self.cap} list pages (LIST_PAGES_MAX); its pager goes on")
            return False
        self.requested[url] = None
        return True

    def stop(self, why: str) -> None:
        """No further list page, on purpose (a sample is taken): said in the report, no problem."""
        self.report["stopped"] = why

    @property
    def stopped(self) -> bool:
        return bool(self.report.get("stopped"))

    # --- what was read ----------------------------------------------------------------
    def fresh(self, urls: list[str]) -> list[str]:
        """The entries not listed on an earlier page of this column (and notes them)."""
        if self.first_entries is None:
            self.first_entries = frozenset(urls)
        new = [url for url in urls if url not in self.entries]
        self.entries.update(new)
        self.report["entries"] = len(self.entries)
        return new

    def page_read(self, pages: int = 1) -> None:
        """A list page read (a page carrying several pages' records counts as those)."""
        self.report["pages_read"] += pages

    def repeated(self, url: str, urls: list[str]) -> bool:
        """A page listing only earlier entries is not followed; unless it is the first page
        again under another URL (``?cur_page=1``), that is a loop, reported. True for a loop."""
        if self.first_entries is not None and set(urls) <= self.first_entries:
            return False
        self.problem(f"list page {url} repeats entries of earlier pages (a pager loop?): not followed")
        return True

    def page_failed(self, url: str, reason: str) -> None:
        self.report["pages_failed"][url] = reason

    def problem(self, text: str) -> None:
        if text not in self.report["problems"]:
            self.report["problems"].append(text)

    @property
    def read_whole(self) -> bool:
        """Whether every list page of the column was read: a whole walk, not stopped (a sample) or
        capped, no page failed or left unread, no problem, and entries found."""
        report = self.report
        return bool(report.get("whole") and report["entries"] and not (
            report.get("stopped") or report.get("capped") or report["pages_failed"]
            or report.get("pages_unread") or report["problems"]))

    def finish(self, walked_all: bool) -> None:
        """Whether the walk was meant to read every page, and the announced ones it did not."""
        self.report["whole"] = walked_all
        if walked_all and self.confirmed is not None:
            self.report["pages_unread"] = [
                url for url in self.confirmed.urls if url not in self.requested][:NAMED_UNREAD]
