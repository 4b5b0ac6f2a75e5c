"""The browser behind JavaScript rendering: Debian's Chromium, found on disk, launched lazily.

Playwright's own browser download is not reachable on the machines this runs on, so the browser is the
distribution's Chromium (``apt-get install chromium``, the Makefile's ``chromium`` target):

* the Scrapy setting ``CHROMIUM_PATH`` names it (and then nothing else is tried);
* else the environment variable ``CHROMIUM_PATH``;
* else ``/usr/bin/chromium``, ``/usr/bin/chromium-browser``, or ``chromium`` on ``PATH``.

:func:`configure` installs scrapy-playwright's download handler only when rendering may
happen (``RENDER_MODE`` ``auto`` or ``always``); with ``never`` or ``api`` Scrapy runs as
it always did. Even when installed, nothing starts until a page needs the browser:
:class:`LazyChromiumProvider` starts Playwright's driver and Chromium on the first rendered
page, so a run over plain portals never launches either.
"""
from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.settings import BaseSettings

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext

#: What ``--render`` accepts: ``auto`` (browser only for lists built by scripts),
#: ``always`` (every list page through the browser), ``never`` (plain Scrapy only),
#: ``api`` (no browser: read the JSON endpoint a list page's scripts reveal).
RENDER_MODES = ("auto", "always", "never", "api")
#: Modes in which the browser may be launched.
BROWSER_MODES = ("auto", "always")

#: Where Debian and friends put Chromium.
DEFAULT_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
#: On PATH, in this order.
EXECUTABLE_NAMES = ("chromium", "chromium-browser")
#: Headless, no sandbox (root in CI), nothing that phones home on its own.
LAUNCH_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--metrics-recording-only",
)
INSTALL_HINT = "install Debian's chromium (make chromium) or set CHROMIUM_PATH"


class BrowserMissing(RuntimeError):
    """No Chromium where the settings say (or anywhere we look)."""


def _usable(path: str | os.PathLike[str]) -> bool:
    return Path(path).is_file() and os.access(path, os.X_OK)


def find_chromium(configured: str | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """The Chromium executable to use, or ``None``.

    ``configured`` (the ``CHROMIUM_PATH`` setting) overrides discovery: when given, it is the
    only candidate. Then the ``CHROMIUM_PATH`` environment variable, the usual paths, ``PATH``.
    """
    if configured:
        return configured if _usable(configured) else None
    env = os.environ if environ is None else environ
    if env.get("CHROMIUM_PATH"):
        return env["CHROMIUM_PATH"] if _usable(env["CHROMIUM_PATH"]) else None
    for path in DEFAULT_PATHS:
        if _usable(path):
            return path
    for name in EXECUTABLE_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def missing_reason(configured: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """Why :func:`find_chromium` found nothing, in a few words."""
    env = os.environ if environ is None else environ
    if configured:
        return f"no Chromium at {configured} (setting CHROMIUM_PATH)"
    if env.get("CHROMIUM_PATH"):
        return f"no Chromium at {env['CHROMIUM_PATH']} (environment CHROMIUM_PATH)"
    return f"no Chromium found ({', '.join(DEFAULT_PATHS)} or chromium on PATH)"


def launch_options(executable: str, *, headless: bool = True) -> dict[str, Any]:
    """Playwright's ``chromium.launch()`` arguments for the system Chromium."""
    return {"executable_path": executable, "headless": headless, "args": list(LAUNCH_ARGS)}


def render_mode(settings: BaseSettings) -> str:
    """``RENDER_MODE`` checked against :data:`RENDER_MODES` (a bad value is a bad argument)."""
    mode = str(settings.get("RENDER_MODE") or "auto").strip().lower()
    if mode not in RENDER_MODES:
        raise ValueError(f"bad RENDER_MODE {mode!r}: use one of {', '.join(RENDER_MODES)}")
    return mode


def browser_path(settings: BaseSettings) -> str | None:
    return find_chromium(settings.get("CHROMIUM_PATH") or None)


def first_line(message: str) -> str:
    """Playwright's errors append a multi-line call log; the first line says it all."""
    return (message or "").strip().splitlines()[0] if (message or "").strip() else ""


class _OneLineBrowserErrors(logging.Filter):
    """scrapy-playwright logs a failed page with Playwright's call log and a traceback:
    a timeout of a slow portal is one line, not a screenful."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and type(error).__module__.startswith("playwright"):
            record.exc_info = None
            record.exc_text = None
        if isinstance(record.args, tuple):
            record.args = tuple(first_line(arg) if isinstance(arg, str) and "\n" in arg else arg
                                for arg in record.args)
        return True


def quiet_browser_logs() -> None:
    logger = logging.getLogger("scrapy-playwright")
    if not any(isinstance(f, _OneLineBrowserErrors) for f in logger.filters):
        logger.addFilter(_OneLineBrowserErrors())


def configure(settings: BaseSettings) -> None:
    """Install the rendering machinery in ``settings`` when ``RENDER_MODE`` may need it.

    Values are set at the spider's priority, so ``-s NAME=VALUE`` still wins over them.
    """
    if render_mode(settings) not in BROWSER_MODES:
        return
    quiet_browser_logs()
    handler = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"
    handlers = dict(settings.getdict("DOWNLOAD_HANDLERS"))
    handlers.update({"http": handler, "https": handler})
    priority = "spider"
    settings.set("DOWNLOAD_HANDLERS", handlers, priority=priority)
    configured = settings.get("CHROMIUM_PATH") or None
    executable = find_chromium(configured) or configured or DEFAULT_PATHS[0]
    timeout_ms = settings.getfloat("RENDER_TIMEOUT", 20.0) * 1000
    for name, value in {
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_BROWSER_PROVIDER": "spiders.browser.LazyChromiumProvider",
        "PLAYWRIGHT_LAUNCH_OPTIONS": launch_options(executable),
        "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": timeout_ms,
        "PLAYWRIGHT_MAX_CONTEXTS": 1,
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": max(1, settings.getint("RENDER_MAX_PAGES", 2)),
    }.items():
        settings.set(name, value, priority=priority)


class LazyChromiumProvider:
    """scrapy-playwright's browser provider, starting Playwright only for the first page.

    The stock provider starts Playwright's driver when the engine starts; this one waits
    until a page is actually rendered, and says clearly when Chromium is missing.
    """

    def __init__(self, config: Any) -> None:
        self.config = config
        self._manager: Any = None
        self._playwright: Any = None

    async def start(self) -> None:
        """Nothing yet: see :meth:`launch_browser`."""

    async def _browser_type(self) -> Any:
        if self._playwright is None:
            from playwright.async_api import async_playwright

            self._manager = async_playwright()
            self._playwright = await self._manager.start()
        return getattr(self._playwright, self.config.browser_type_name)

    async def launch_browser(self) -> "Browser":
        options = dict(self.config.launch_options)
        executable = options.get("executable_path")
        if executable and not _usable(executable):
            raise BrowserMissing(f"{missing_reason(executable)}: {INSTALL_HINT}")
        browser_type = await self._browser_type()
        return await browser_type.launch(**options)

    async def launch_persistent_context(self, context_kwargs: dict) -> "BrowserContext":
        browser_type = await self._browser_type()
        return await browser_type.launch_persistent_context(**context_kwargs)

    async def close(self) -> None:
        if self._manager is not None:
            await self._manager.__aexit__()
            self._manager = self._playwright = None
