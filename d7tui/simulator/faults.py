"""Fault knobs for tests, the demo and benchmarks: what share of answers go wrong, and how."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Faults:
    error_rate: float = 0.0  # share of answers that are 500/502/503
    rate_limit: float = 0.0  # share of requests answered 429
    burst_every: int = 0  # every N requests start a burst of 429s ...
    burst_len: int = 0  # ... this many requests long
    retry_after: float = 1.0  # seconds, sent in Retry-After on every 429
    # Send Retry-After as an HTTP date instead of seconds: True = always, a float = that share.
    retry_after_http_date: bool | float = False
    timeout_rate: float = 0.0  # share of requests never answered (the connection stays open)
    malformed_rate: float = 0.0  # share of 200 answers whose body is broken
    hostile: bool = False  # text fields carry markup, escapes, bidi marks, 1 MB, bad UTF-8
    seed: int = 0

    @property
    def any(self) -> bool:
        return any(
            getattr(self, f.name) for f in fields(self) if f.name not in ("seed", "retry_after")
        )


class FaultSpecError(ValueError):
    pass


# spec name -> (Faults field, kind of number)
_SPEC: dict[str, tuple[str, str]] = {
    "5xx": ("error_rate", "share"),
    "429": ("rate_limit", "share"),
    "timeout": ("timeout_rate", "share"),
    "malformed": ("malformed_rate", "share"),
    "retry-after": ("retry_after", "seconds"),
    "retry-after-date": ("retry_after_http_date", "share"),
    "burst-every": ("burst_every", "count"),
    "burst-len": ("burst_len", "count"),
    "seed": ("seed", "count"),
}
_FLAGS = {"hostile": ("hostile", True), "retry-after-date": ("retry_after_http_date", True)}
SPEC_HELP = (
    "5xx=SHARE, 429=SHARE, timeout=SHARE, malformed=SHARE, retry-after=SECONDS, "
    "retry-after-date[=SHARE], burst-every=N, burst-len=N, seed=N, hostile"
)


def parse_fault_specs(specs: list[str], base: Faults | None = None) -> Faults:
    """Turn `--fault` arguments (each may hold several, comma-separated) into Faults.

    Raises FaultSpecError with one line naming the bad part.
    """
    values: dict[str, object] = {}
    for spec in specs:
        for part in spec.split(","):
            part = part.strip()
            if not part:
                continue
            name, eq, raw = part.partition("=")
            name = name.strip().lower()
            if not eq and name in _FLAGS:
                field_name, flag = _FLAGS[name]
                values[field_name] = flag
                continue
            if name not in _SPEC or not eq:
                raise FaultSpecError(f"unknown fault {part!r} (known: {SPEC_HELP})")
            field_name, kind = _SPEC[name]
            try:
                number = float(raw)
            except ValueError:
                raise FaultSpecError(f"fault {name!r} needs a number, not {raw!r}") from None
            if not math.isfinite(number) or number < 0:
                raise FaultSpecError(f"fault {name!r} needs a finite number >= 0, not {raw!r}")
            if kind == "share" and number > 1:
                raise FaultSpecError(f"fault {name!r} is a share from 0 to 1, not {raw}")
            if kind == "count":
                if number != int(number):
                    raise FaultSpecError(f"fault {name!r} needs a whole number, not {raw!r}")
                values[field_name] = int(number)
            else:
                values[field_name] = number
    start = base or Faults()
    return Faults(**{**{f.name: getattr(start, f.name) for f in fields(Faults)}, **values})  # type: ignore[arg-type]


class FaultDice:
    """Decides, request by request, which fault (if any) strikes. Used on the server's loop only;
    `Simulator.set_faults` swaps in a new one rather than mutating this."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.rng = random.Random(faults.seed)
        self.count = 0

    def roll(self) -> str | None:
        """One of "timeout", "5xx", "429" or None, for one request."""
        f = self.faults
        self.count += 1
        if f.burst_every and f.burst_len and (self.count - 1) % f.burst_every < f.burst_len:
            return "429"
        r = self.rng.random()
        for name, share in (
            ("timeout", f.timeout_rate),
            ("5xx", f.error_rate),
            ("429", f.rate_limit),
        ):
            if r < share:
                return name
            r -= share
        return None

    def malformed(self) -> bool:
        return bool(self.faults.malformed_rate) and self.rng.random() < self.faults.malformed_rate

    def http_date(self) -> bool:
        share = float(self.faults.retry_after_http_date)
        return share >= 1 or (share > 0 and self.rng.random() < share)

    def chance(self, share: float) -> bool:
        return self.rng.random() < share
