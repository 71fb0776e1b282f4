"""Fault knobs for tests and benchmarks: what share of answers go wrong, and how."""

from __future__ import annotations

import random
from dataclasses import dataclass, fields

# Strings a hostile vendor (or attacker upstream of it) could put in any text field.
HOSTILE = (
    "[bold red]PWNED[/]",
    "[@click=app.quit]click me[/]",
    "[/]",
    "\x1b[31mred\x1b[0m",
    "\x1b]0;pwned\x07title",
    "\x1b]52;c;aGVsbG8=\x07clip",
    "\u202eevil\u202c",
    "\x9b31m c1",
    "tab\there\nnewline",
)
MEGABYTE = "x" * (1024 * 1024)


@dataclass(frozen=True)
class Faults:
    error_rate: float = 0.0  # share of answers that are 500/502/503
    rate_limit: float = 0.0  # share of requests answered 429
    burst_every: int = 0  # every N requests start a burst of 429s ...
    burst_len: int = 0  # ... this many requests long
    retry_after: float = 1.0  # seconds, sent in Retry-After on every 429
    retry_after_http_date: bool = False  # send Retry-After as an HTTP date instead
    timeout_rate: float = 0.0  # share of requests never answered
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


_SPEC = {
    "5xx": "error_rate",
    "429": "rate_limit",
    "timeout": "timeout_rate",
    "malformed": "malformed_rate",
    "retry-after": "retry_after",
    "burst-every": "burst_every",
    "burst-len": "burst_len",
}


def parse_fault_specs(specs: list[str]) -> Faults:
    """`5xx=0.3`, `429=0.1`, `timeout=0.05`, `malformed=0.05`, `retry-after=2`, `hostile`,
    `retry-after-date`, `burst-every=100`, `burst-len=10`."""
    values: dict[str, object] = {}
    for spec in specs:
        for part in spec.split(","):
            part = part.strip()
            if not part:
                continue
            name, eq, raw = part.partition("=")
            if name == "hostile" and not eq:
                values["hostile"] = True
                continue
            if name == "retry-after-date" and not eq:
                values["retry_after_http_date"] = True
                continue
            if name not in _SPEC or not eq:
                known = ", ".join([*(f"{k}=N" for k in _SPEC), "hostile", "retry-after-date"])
                raise FaultSpecError(f"unknown fault {part!r} (known: {known})")
            try:
                number = float(raw)
            except ValueError:
                raise FaultSpecError(f"fault {name!r} needs a number, not {raw!r}") from None
            field_name = _SPEC[name]
            if field_name.endswith("_rate") or field_name == "rate_limit":
                if not 0 <= number <= 1:
                    raise FaultSpecError(f"fault {name!r} is a share from 0 to 1, not {raw}")
                values[field_name] = number
            elif field_name.startswith("burst"):
                values[field_name] = int(number)
            else:
                if number < 0:
                    raise FaultSpecError(f"fault {name!r} cannot be negative")
                values[field_name] = number
    return Faults(**values)  # type: ignore[arg-type]


class FaultDice:
    """Decides, request by request, which fault (if any) strikes."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.rng = random.Random(faults.seed)
        self.count = 0

    def roll(self) -> str | None:
        f = self.faults
        self.count += 1
        if f.burst_every and f.burst_len and (self.count % f.burst_every) < f.burst_len:
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
        return self.rng.random() < self.faults.malformed_rate

    def hostile_text(self) -> str:
        if self.rng.random() < 0.02:
            return MEGABYTE
        return self.rng.choice(HOSTILE)
