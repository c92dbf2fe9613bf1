"""How durations, sizes and percentages are written, everywhere: core, journal and screen."""

from __future__ import annotations

import math


def age_text(seconds: float) -> str:
    """A duration or age: 3s, 2m05s, 1h02m."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def size_text(size_bytes: float) -> str:
    """Bytes in binary units: 512 B, 9.1 MiB, 1.2 GiB."""
    size = float(size_bytes)
    for unit in ("B", "KiB", "MiB"):
        if abs(size) < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def percent_number(value: float) -> str:
    """'25', '33.3', '0.04': as few decimals as keep it distinct from the whole number."""
    whole = round(value)
    if math.isclose(value, whole, abs_tol=1e-9):
        return str(whole)
    for decimals in (1, 2, 3):
        text = f"{value:.{decimals}f}"
        if float(text) != whole:
            return text
    return f"{value:.4f}"
