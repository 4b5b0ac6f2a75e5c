"""Scrapy's own commands as this project needs them (setting ``COMMANDS_MODULE``)."""
