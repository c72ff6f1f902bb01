"""What the steps measured: the verdict of a step, fan-out capacity, CPU per delivery."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from bench.formatting import num
from bench.settings import GENERATOR_CPU_LIMIT, ServerConfig, deliveries


def verdict(step: dict) -> str:
    """pass, FAIL, or generator-bound: a step counts only while the generator has CPU to spare."""
    if (step.get("generator_cpu_pct") or 0) >= GENERATOR_CPU_LIMIT:
        return "generator-bound"
    return "pass" if step.get("passed") else "FAIL"


def counts(step: dict) -> bool:
    """The step passed with the generator under its CPU limit."""
    return verdict(step) == "pass"


@dataclass
class Capacity:
    """The fan-out capacity one repeat measured, and what stopped the ladder."""

    step: dict | None  # the last step that counts (passed, generator under its limit)
    stop: dict | None  # the step the ladder stopped at (failed, or generator over its limit)
    bound: str  # "server", "generator", "ladder" (top of the ladder passed), "none" (no run)

    @property
    def value(self) -> float:
        return float(self.step["deliveries_per_s"]) if self.step else 0.0


def capacity_of(steps: list[dict], top_rate: float | None = None) -> Capacity:
    """The capacity one repeat measured. A repeat whose last step passed below `top_rate`
    (the top of the ladder) stopped there because repeat 1's generator ran out of CPU on the
    next rung: its figure is a lower bound like repeat 1's."""
    if not steps:
        return Capacity(None, None, "none")
    last = None
    for step in sorted(steps, key=lambda s: s["rate_per_sender"]):
        if (step.get("generator_cpu_pct") or 0) >= GENERATOR_CPU_LIMIT:
            return Capacity(last, step, "generator")
        if not step.get("passed"):
            return Capacity(last, step, "server")
        last = step
    if top_rate is not None and last["rate_per_sender"] < top_rate:
        return Capacity(last, None, "generator")
    return Capacity(last, None, "ladder")


@dataclass
class ConfigResult:
    """Everything one configuration measured (or why it did not)."""

    config: ServerConfig
    runs: list[list[dict]] = field(default_factory=list)  # fan-out steps, one list per repeat
    latency: dict | None = None
    connections: dict | None = None
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: str | None = None
    top_rate: float | None = None  # the ladder's highest rate

    def capacities(self) -> list[Capacity]:
        return [capacity_of(steps, self.top_rate) for steps in self.runs]

    def median(self) -> Capacity | None:
        """The median repeat's capacity (the lower median for an even count)."""
        caps = self.capacities()
        if not caps:
            return None
        ordered = sorted(caps, key=lambda c: c.value)
        return ordered[(len(ordered) - 1) // 2]


def cpu_per_kdelivery(result: ConfigResult, rate: float) -> float | None:
    """Median server CPU (% of a core) per 1,000 deliveries/s over the counting steps at
    `rate`: what a delivery costs the server, whatever limited the ladder."""
    values = [
        step["server_cpu_pct"] / (step["deliveries_per_s"] / 1000)
        for steps in result.runs
        for step in steps
        if step["rate_per_sender"] == rate and counts(step) and step.get("server_cpu_pct")
    ]
    return statistics.median(values) if values else None


@dataclass
class Efficiency:
    """This server's CPU per delivery against Node's at the highest rate both passed."""

    rate: float
    ours: float  # % of a core per 1,000 deliveries/s
    node: float

    @property
    def cost_ratio(self) -> float:  # > 1: this server needs more CPU per delivery
        return self.ours / self.node

    def describe(self) -> str:
        return (
            f"at {num(deliveries(self.rate))}/s: {self.ours:.1f}% vs "
            f"{self.node:.1f}% of a core per 1,000 deliveries/s"
        )


def efficiency(result: ConfigResult, node: ConfigResult | None) -> Efficiency | None:
    """CPU per delivery of `result` and of Node at the highest rate both passed; None when
    there is no such rate (or `result` is Node)."""
    if node is None or result is node:
        return None

    def counted_rates(r: ConfigResult) -> set[float]:
        return {step["rate_per_sender"] for steps in r.runs for step in steps if counts(step)}

    for rate in sorted(counted_rates(result) & counted_rates(node), reverse=True):
        ours, theirs = cpu_per_kdelivery(result, rate), cpu_per_kdelivery(node, rate)
        if ours and theirs:
            return Efficiency(rate, ours, theirs)
    return None
