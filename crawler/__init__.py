"""Crawler and archive for the 政务督查 (supervision bulletin) columns of TRS-style portals."""
