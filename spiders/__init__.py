"""Scrapy spiders: walk a column's list pages to its bulletin pages."""
