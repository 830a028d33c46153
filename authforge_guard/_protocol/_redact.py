"""Showing a license key without giving it away: one rule for the client, CLI and server logs."""

from __future__ import annotations


def mask_key(key: str | None) -> str:
    """A license key shortened for display: enough to recognise it, too little to use it."""
    if not key:
        return ""
    if len(key) < 12:
        return "…"
    return f"{key[:2]}…{key[-4:]}"
