"""Scrapy settings of the project, polite by default for the live portals.

Every value here can be overridden per run with ``python -m crawler crawl -s NAME=VALUE``
(e.g. ``-s DOWNLOAD_DELAY=0 -s AUTOTHROTTLE_ENABLED=False`` against the local replica).
"""
import os

BOT_NAME = "zwdc-archive"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"
#: ``scrapy crawl column`` crawls as ``python -m crawler crawl`` does (the archive, the verdict).
COMMANDS_MODULE = "crawler.scrapy_commands"

#: Who we are, and where to complain: portals' webmasters read their logs.
USER_AGENT = (
    "zwdc-archive/0.1 (+supervision bulletin archive for research; "
    "polite crawler: robots.txt, AutoThrottle, 2 requests per host)"
)

# --- Politeness ---------------------------------------------------------------------
#: robots.txt is obeyed, always by default.
ROBOTSTXT_OBEY = True
#: At most two requests in flight per host.
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 2
#: Outputs of one response handled at once. Scrapy 2.19 starts this many + 1 asyncio tasks for
#: every response, whatever it yields; our pages yield one item or a few requests, so Scrapy's
#: default (100) would spend about as much CPU on those tasks as on the fetching itself.
CONCURRENT_ITEMS = 4
#: Scrapy's check for ``return value`` in generator callbacks reads and parses the callback's
#: source again for every list page (4–6 ms each: its cache holds only the method object it was
#: given, and every request carries a new one). A check for developers, not for each page.
WARN_ON_GENERATOR_RETURN_VALUE = False
#: At least a second between requests to a host, adapted to the server's latency.
DOWNLOAD_DELAY = 1.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0

# --- Faults -------------------------------------------------------------------------
#: Slow portals: give up on one request after this many seconds (then retry).
DOWNLOAD_TIMEOUT = 30
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
REDIRECT_MAX_TIMES = 5
#: Pages and attachments larger than this are refused (bulletins are a few hundred KB).
DOWNLOAD_MAXSIZE = 50 * 1024 * 1024
DOWNLOAD_WARNSIZE = 10 * 1024 * 1024
#: Attachments larger than this are not downloaded (recorded as a failure instead).
ATTACHMENT_MAXSIZE = 20 * 1024 * 1024
#: Read the text of attachment files during the crawl (in a thread beside the fetching; the
#: crawl ends once they are read). False leaves them for ``python -m crawler ingest``, which
#: reads every file still without text.
ATTACHMENT_TEXT = True
#: Files read at once during the crawl, each by a child process of its own: one a core (at most
#: 4), since reading (0.01–0.3 s of CPU a file, seconds through LibreOffice) is what the crawl of
#: a fast portal waits for at its end. Each reader keeps a server process with the parsers
#: loaded (about 80 MiB) for the run; 1 for a small machine.
ATTACHMENT_READERS = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
#: Read scanned PDFs and images with Tesseract (``crawl --ocr``): seconds a page, so off by
#: default; text layers, Word, WPS and spreadsheets are always read.
ATTACHMENT_OCR = False

# --- Components ---------------------------------------------------------------------
DOWNLOADER_MIDDLEWARES = {
    # Exact host:port instead of Scrapy's domain-and-subdomains rule.
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "crawler.middlewares.PortalHostsMiddleware": 50,
    # One download slot per host:port (Scrapy's slots ignore the port).
    "crawler.politeness.HostSlotsMiddleware": 60,
    # Next to the downloader: sees the server's bytes before decompression and redirects.
    "crawler.middlewares.CaptureMiddleware": 950,
}
EXTENSIONS = {
    # Opens the archive, captures every response (WARC + captures), ingests the captures in
    # batches, judges the run's health.
    "crawler.extensions.ArchiveRun": 0,
    # A portal's own delay (sites.toml) stays the floor of AutoThrottle's delay for its hosts.
    "scrapy.extensions.throttle.AutoThrottle": None,
    "crawler.politeness.SiteAutoThrottle": 0,
    # Only with a shared queue (crawl --scheduler redis://…): idle-out, heartbeat.
    "crawler.distributed.SharedQueueWorker": 10,
    # The event loop's longest stall in the run's stats (a hostile page once held it 133 s).
    "crawler.stalls.EventLoopStalls": 20,
}
ITEM_PIPELINES = {
    # A bulletin's attachment files (Scrapy's FilesPipeline), then its capture to ingest.
    "crawler.pipelines.AttachmentFiles": 300,
    "crawler.pipelines.IngestReady": 800,
}
#: Attachments served through a redirect on the portal's hosts are followed.
MEDIA_ALLOW_REDIRECTS = True

# --- Archive ------------------------------------------------------------------------
#: The SQLite archive the crawl writes to (``--archive`` on the command line).
ARCHIVE_PATH = "data/archive.db"
#: Seconds between ingest batches (each committed with the captures made since): batching is
#: much cheaper than a commit per bulletin; a crash loses at most this much work, which the
#: next run fetches again.
ARCHIVE_COMMIT_INTERVAL = 1.0
#: Worker processes extracting the captured pages while the crawl goes on (the crawl process
#: writes what they return); 0 extracts in the crawl process itself. Small batches are
#: extracted there anyway until a batch is large enough to be worth starting a worker.
INGEST_PROCESSES = 1
#: Seconds a crawl told to stop (Ctrl-C, SIGTERM) may take to finish the requests in flight
#: before it stops at once (what is captured is kept either way).
STOP_TIMEOUT = 8.0
#: Extra hosts of the same portal whose bulletin links are followed (list).
PORTAL_EXTRA_HOSTS: list[str] = []
#: Walk every list page and re-validate every archived bulletin (``crawl --full``);
#: otherwise stop at the first list page with nothing new and fetch only new bulletins.
CRAWL_FULL = False

#: Ceiling on list pages read per column: an endless or looping pager is stopped there and
#: reported as a problem of the column (a page repeating earlier entries stops it sooner).
LIST_PAGES_MAX = 1000
#: A registry file (``crawl --sites PATH``) adding portals to the shipped ``sites.toml``.
SITES_FILE = None
#: host -> its portal's profile: overrides for when detection gets a portal wrong (list
#: container, entry link pattern, pager template, body container, label synonyms, render mode).
#: Filled from the registry by the commands (``crawler/sites.py``); empty: detection decides.
PORTAL_PROFILES: dict[str, dict] = {}

# --- JavaScript-built lists (spiders/rendering.py, spiders/browser.py) ------------------
#: ``auto``: a list page showing no bulletin of its column but carrying scripts is fetched
#: again through Chromium (scrapy-playwright), and so are that column's later list pages;
#: ``always``: every list page through Chromium; ``never``: plain Scrapy only (such a column
#: fails the run); ``api``: no browser, read the JSON endpoint the page's scripts call.
#: Bulletin pages are always fetched plainly. ``crawl --render MODE`` sets it.
RENDER_MODE = "auto"
#: Chromium's executable; when set, the only one tried (else env ``CHROMIUM_PATH``, then
#: ``/usr/bin/chromium``, then ``chromium`` on PATH). ``make chromium`` installs Debian's.
CHROMIUM_PATH = None
#: Seconds a rendered page may take to load, then to show its list (each, per page).
RENDER_TIMEOUT = 20
RENDER_WAIT = 10
#: Pages open in the browser at once.
RENDER_MAX_PAGES = 2
#: Resource types the browser never loads (it never talks to hosts beyond the portal's).
RENDER_BLOCKED_RESOURCES = ["image", "media", "font", "stylesheet"]

# --- Distributed crawl (crawl --scheduler redis://HOST:PORT/DB, crawler/distributed.py) -----
#: A worker stops once the shared queue has been idle (empty, no worker busy) this many seconds.
SHARED_QUEUE_IDLE_TIMEOUT = 30.0

# --- Housekeeping -------------------------------------------------------------------
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "INFO"
#: Dropped items logged by their reason only (a bulletin item carries the whole page).
LOG_FORMATTER = "crawler.logs.ReasonOnlyLogFormatter"
FEED_EXPORT_ENCODING = "utf-8"
#: Feeds get bulletins (spiders.items.Bulletin); in CSV a list (attachments) is its JSON text.
FEED_EXPORTERS = {"csv": "crawler.feeds.BulletinCsvExporter"}
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
