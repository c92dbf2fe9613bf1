"""How durations, latencies, sizes and percentages are written, in core, journal and screen."""

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


def tenths_age_text(seconds: float) -> str:
    """An age with tenths under ten seconds: 4.2s, then as age_text: 2m05s."""
    return f"{seconds:.1f}s" if seconds < 10 else age_text(seconds)


def countdown_text(seconds: float) -> str:
    """Whole seconds rounded up below a minute: 42 s, then as age_text: 2m05s."""
    whole = max(0, math.ceil(seconds))
    return f"{whole} s" if whole < 60 else age_text(whole)


def coarse_duration_text(seconds: float | None) -> str:
    """A duration at a glance: 4s (rounded up), 12m, 2h 5m; unknown for None."""
    if seconds is None:
        return "unknown"
    whole = math.ceil(seconds) if seconds < 60 else int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m"
    return f"{whole // 3600}h {whole % 3600 // 60}m"


def fine_duration_text(seconds: float) -> str:
    """Milliseconds below a second, tenths below a minute, then an age: 120 ms, 4.2 s, 3m10s."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    return age_text(seconds)


def latency_text(seconds: float) -> str:
    """Milliseconds below a second, then seconds to the hundredth: 0.4 ms, 12 ms, 1.25 s."""
    milliseconds = seconds * 1000
    if milliseconds < 1000:
        return _milliseconds_text(milliseconds)
    return f"{seconds:.2f} s"


def latency_ms_text(seconds: float) -> str:
    """Milliseconds below ten seconds, then seconds to the tenth: 0.4 ms, 2500 ms, 12.5 s."""
    milliseconds = seconds * 1000
    if milliseconds < 10_000:
        return _milliseconds_text(milliseconds)
    return f"{seconds:.1f} s"


def _milliseconds_text(milliseconds: float) -> str:
    """Tenths below ten milliseconds, whole milliseconds above: 0.4 ms, 120 ms."""
    return f"{milliseconds:.1f} ms" if milliseconds < 10 else f"{milliseconds:.0f} ms"


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


def ratio_percent_text(ratio: float) -> str:
    """A 0..1 ratio as a percent read at a glance: 0 %, 0.04 %, 0.4 %, 12 %."""
    percent = ratio * 100
    if percent == 0:
        return "0 %"
    if percent < 0.1:
        return f"{percent:.2f} %"
    if percent < 10:
        return f"{percent:.1f}".removesuffix(".0") + " %"
    return f"{percent:.0f} %"


def fixed_percent_text(ratio: float, digits: int = 1) -> str:
    """A 0..1 ratio as a percent with a fixed number of decimals: 12.5 %."""
    return f"{ratio * 100:.{digits}f} %"
