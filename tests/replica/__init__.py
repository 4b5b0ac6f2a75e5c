"""Replica of the government portals the crawler targets, TRS and others (served on 127.0.0.1).

``from tests.replica import ReplicaPortal``; run ``python -m tests.replica`` for the demo.
"""
from .server import ColumnInfo, ReplicaPortal

__all__ = ["ColumnInfo", "ReplicaPortal"]
