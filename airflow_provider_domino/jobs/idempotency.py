"""Idempotency keys that travel with a job in its title.

Starting a job is the one request that must never be resent blindly. The key is appended to the job's
title (the one free-text field that both the list and get endpoints return), so after an ambiguous
failure, or on a task retry, the provider can find the job it already started instead of starting a
second one.
"""

from __future__ import annotations

import hashlib
import re
import uuid

_MARKER = re.compile(r"\[airflow-key:([A-Za-z0-9_.-]{1,64})\]")


def derive_key(*parts: object) -> str:
    """A short, stable key from the parts that identify one unit of work (dag, task, run, map index)."""
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode("utf-8")).hexdigest()
    return f"af-{digest[:20]}"


def random_key() -> str:
    """A fresh key for a start that has no natural identity (a plain hook call)."""
    return f"rnd-{uuid.uuid4().hex[:20]}"


def title_with_key(title: str | None, key: str) -> str:
    """``title`` with the key marker appended (replacing any marker it already carried)."""
    if not _MARKER.fullmatch(f"[airflow-key:{key}]"):
        raise ValueError(f"idempotency key {key!r} must be 1-64 characters of letters, digits, '_', '.', '-'")
    base = _MARKER.sub("", title or "").strip()
    return f"{base} [airflow-key:{key}]" if base else f"[airflow-key:{key}]"


def key_in_title(title: str | None) -> str | None:
    """The key carried by a job title, if any."""
    match = _MARKER.search(title or "")
    return match.group(1) if match else None
