"""Feed exports of bulletins (``scrapy crawl column -O bulletins.csv``)."""
from __future__ import annotations

import json
from typing import Any

from scrapy.exporters import CsvItemExporter


class BulletinCsvExporter(CsvItemExporter):
    """Scrapy's CSV, with a list (a bulletin's attachments) as its JSON text, as the archive's
    own CSV export writes it (Scrapy would join the list's items with commas)."""

    def serialize_field(self, field: Any, name: str, value: Any) -> Any:
        if isinstance(value, (list, dict)):
            return json.dumps(value, ensure_ascii=False)
        return super().serialize_field(field, name, value)
