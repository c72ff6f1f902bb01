"""How the report writes a figure: counts, latencies, shares, CPU, KiB and ratios ("–" if none)."""

from __future__ import annotations


def num(value) -> str:
    """A count or a rate, with thousands separators and no decimals."""
    return "–" if value is None else f"{float(value):,.0f}"


def ms(value) -> str:
    """A latency in ms: one decimal under 10 ms, none above."""
    if value is None:
        return "–"
    value = float(value)
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def pct(ratio) -> str:
    """A share (0..1) as a percentage with one decimal."""
    return "–" if ratio is None else f"{float(ratio) * 100:.1f}%"


def cpu(value) -> str:
    """CPU as a whole percentage of one core."""
    return "–" if value is None else f"{float(value):.0f}%"


def kib(value) -> str:
    """A size in KiB with one decimal."""
    return "–" if value is None else f"{float(value):.1f}"


def ratio(ours, node, qualifier: str = "") -> str:
    """ours / node as "1.23x" (no decimals from 10x up)."""
    if ours is None or node is None or float(node) == 0:
        return "–"
    value = float(ours) / float(node)
    return f"{qualifier}{value:.0f}x" if value >= 10 else f"{qualifier}{value:.2f}x"


def triple(step: dict | None) -> str:
    """A step's latencies as "p50 / p99 / max"."""
    if not step:
        return "–"
    return f"{ms(step.get('p50_ms'))} / {ms(step.get('p99_ms'))} / {ms(step.get('max_ms'))}"


def yes(ok: bool) -> str:
    return "yes" if ok else "no"
