"""Showing a license key without giving it away: one rule for the client, CLI and server logs."""

from __future__ import annotations

from typing import Optional


def mask_key(key: Optional[str]) -> str:
    """A license key shortened for display: enough to recognise it, too little to use it."""
    if not key:
        return ""
    if len(key) < 12:
        return "…"
    return f"{key[:2]}…{key[-4:]}"
