"""The reading room: the archive's own pages, served inside Datasette by :mod:`archive.datasette_plugin`.

Chinese first (``?lang=en`` for English). Each module is one page: the front page (:mod:`.home`),
search and its downloads (:mod:`.search_page`), a bulletin with its versions, raw capture and files
(:mod:`.bulletin`), the supervision items (:mod:`.items_page`) and the charts (:mod:`.charts`).
"""
from __future__ import annotations

from archive.web.bulletin import bulletin_view, capture_view, file_view
from archive.web.charts import charts_view
from archive.web.common import (
    BULLETIN_PATH, CAPTURE_PATH, CHARTS_PATH, FILE_PATH, ITEMS_PATH, SEARCH_PATH, time_limited,
)
from archive.web.home import home_view
from archive.web.items_page import items_view
from archive.web.search_page import search_download, search_page

#: (path regex, view) for Datasette's ``register_routes``.
ROUTES = [(path, time_limited(view)) for path, view in [
    (r"^/$", home_view),
    (rf"^{SEARCH_PATH}$", search_page),
    (rf"^{SEARCH_PATH}\.(?P<format>csv|json)$", search_download),
    (rf"^{BULLETIN_PATH}$", bulletin_view),
    (rf"^{CAPTURE_PATH}(?P<id>[0-9]{{1,18}})$", capture_view),
    (rf"^{FILE_PATH}(?P<sha256>[0-9a-f]{{64}})$", file_view),
    (rf"^{ITEMS_PATH}$", items_view),
    (rf"^{CHARTS_PATH}$", charts_view),
]]
