"""Label sets: stored as JSON, identified by a stable key so an alert per (rule, label set) is unique."""

from __future__ import annotations

import hashlib
import json


def labels_key(labels: dict[str, str]) -> str:
    canonical = json.dumps({str(k): str(v) for k, v in labels.items()}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def labels_match(labels: dict[str, str], matchers: dict[str, str]) -> bool:
    """Every matcher label is present with exactly that value (an empty matcher set matches everything)."""
    return all(str(labels.get(name)) == str(value) for name, value in matchers.items())


def labels_text(labels: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "-"
