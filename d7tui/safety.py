"""Defences for text that came from outside (an API, a paste) and for secrets.

External strings are cleaned exactly once, when parsed: after that every layer may show them.
Markup is a separate concern handled where text is drawn (the UI never parses external text as
markup); here we only make sure no control character can reach a terminal.
"""

from __future__ import annotations

import base64
import functools
import json
import math
import re
import sys
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote, urlsplit

# C0 controls except TAB/LF (made visible below anyway), DEL, C1 controls, and lone surrogates
# (JSON's "\ud800" decodes to one), which no UTF-8 terminal or file can take. Then every character
# that draws nothing: Unicode's format characters (Cf: zero-width spaces and joiners, the bidi
# overrides and isolates that reorder what a support engineer reads, Trojan-Source style, the
# byte order mark, tag characters), the line and paragraph separators (Zl, Zp), and the rest of
# the Default_Ignorable_Code_Point set (variation selectors, Hangul fillers, the combining
# grapheme joiner). Drawn as nothing, they make look-alike recipients and shift table columns;
# tests/test_safety.py checks this list against the unicodedata of the running Python.
_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff"
    "\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160"
    "\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164"
    "\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e0fff]"
)
MAX_FIELD = 4096  # a 1 MB vendor field is kept in the raw body, not on screen
# json.loads accepts nesting almost as deep as the interpreter's stack; walking that again
# (cleaning, json.dumps, repr) from a few frames deeper would raise RecursionError. No vendor
# body nests more than a handful of levels, so deeper values are summarised instead.
MAX_DEPTH = 32


def _visible(match: re.Match[str]) -> str:
    ch = match.group()
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # U+2400 block: ␛ for ESC, ␊ for LF ...
    if code == 0x7F:
        return "\u2421"  # ␡
    # C1 controls, lone surrogates and invisible characters by their code point: a `<U+D800>`
    # says which, where a replacement character would look like any undecodable byte.
    return f"<U+{code:04X}>"


# Short words an API repeats in every answer (a status, a reason, a country, a currency): at
# 100,000 watched ids every answer's own copies of them were kept with its state (~1 KB an
# answer with the keys below). Ids, numbers and times (with digits) are not shared: each is its own.
_WORD = re.compile(r"[A-Za-z_ -]{1,24}")


def safe_text(value: str, limit: int = MAX_FIELD) -> str:
    """The string with every control and invisible character made visible (`␛`, `<U+200B>`),
    and bounded in length. A short word is one shared object (`sys.intern`), whoever made it."""
    # Most text from an API (ids, numbers, status words) is printable ASCII, which holds none
    # of _CONTROL's characters: known so without running the pattern over it.
    cleaned = value if value.isascii() and value.isprintable() else _CONTROL.sub(_visible, value)
    if len(cleaned) > limit:
        cleaned = f"{cleaned[:limit]}… ({len(value):,} characters)"
    elif len(cleaned) <= 24 and type(cleaned) is str and _WORD.fullmatch(cleaned) is not None:
        cleaned = sys.intern(cleaned)
    return cleaned


def clean_json(value: Any, limit: int = MAX_FIELD, _depth: int = 0) -> Any:
    """A parsed JSON value with every string in it (keys too) passed through safe_text;
    containers nested deeper than MAX_DEPTH are replaced by a short note; NaN and Infinity
    (which Python's json.loads accepts) become the text they were sent as."""
    # Every answer's every value passes here: the exact types json.loads makes are told apart
    # first, by a look-up rather than a chain of isinstance; anything else takes the long way.
    kind = type(value)
    if kind is str:
        return safe_text(value, limit)
    if kind in _AS_IS:
        return value
    if kind is dict and _depth < MAX_DEPTH:
        return {
            _key(k): v if type(v) in _AS_IS else clean_json(v, limit, _depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, str):
        return safe_text(value, limit)
    if isinstance(value, float) and not math.isfinite(value):
        return _NONFINITE_TEXT[str(value)]
    if isinstance(value, dict | list) and _depth >= MAX_DEPTH:
        return f"… (nested deeper than {MAX_DEPTH} levels)"
    if isinstance(value, dict):
        return {_key(k): clean_json(v, limit, _depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_json(v, limit, _depth + 1) for v in value]
    return value


# What json.loads makes that needs no cleaning (a float may be NaN or Infinity: not here).
_AS_IS = frozenset({int, bool, type(None)})
MAX_KEY = 200


def _key(key: object) -> str:
    """A JSON object's key, cleaned, and shared by every answer that names it (the same few
    keys, parsed anew from each answer and kept with its state)."""
    if type(key) is str and len(key) <= MAX_KEY and key.isascii() and key.isprintable():
        return sys.intern(key)
    return sys.intern(safe_text(str(key), MAX_KEY))


_NONFINITE_TEXT = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def strict_json(value: Any, **options: Any) -> str:
    """json.dumps that never writes NaN or Infinity: they are not JSON, and strict parsers
    refuse the whole document. A number that is not finite (a state saved before they were
    cleaned at parse time) is written as null."""
    try:
        return json.dumps(value, allow_nan=False, **options)
    except ValueError:
        return json.dumps(_finite(value), allow_nan=False, **options)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def error_line(error: BaseException, limit: int = 300) -> str:
    """An error in one line: its own line breaks and tabs (a database server's message spans
    lines) are spaces, anything else is made visible as one_line does."""
    return one_line(" ".join(str(error).split()), limit)


def one_line(text: str, limit: int = 300) -> str:
    """A message fit for one line of standard error or a toast."""
    flat = " ".join(safe_text(text, limit * 2).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


WHOLE_LINE = 5000  # characters: past that, even a line d7tui composed itself is cut


def whole_line(text: str) -> str:
    """A line d7tui composed itself (its own words, paths and counts, an error it bounded
    already) for the terminal, where nothing limits the width: one line, safe, and whole (a
    sentence saying what happens next must not stop mid-word). Its line breaks and tabs (a
    database server's message inside it) are spaces, as in `error_line`."""
    return one_line(" ".join(text.split()), WHOLE_LINE)


# What stands for a credential a server echoed back. A real credential is long: blotting out a
# shorter one (a one-letter test token) would eat ordinary words.
REDACTED = "•••"
MIN_SECRET = 8


@functools.lru_cache(maxsize=64)
def echo_forms(secret: str) -> tuple[str, ...]:
    """`secret` as a server or a proxy may echo it back: as it is, percent-encoded (a URL, a
    form, an OAuth-style callback; every byte or only those that must be), upper- or
    lower-cased (an error page), base64-encoded (a header shown back, alone or inside a longer
    value), in hex, or cut to its first or last half (a long enough one). Each is one more plain replace: cheap, where a search ignoring case
    over every answer would not be. Empty for a secret too short to be a credential."""
    if len(secret) < MIN_SECRET:
        return ()
    raw = secret.encode()
    every_byte = "".join(f"%{byte:02X}" for byte in raw)  # an encoder that escapes all
    forms = [
        secret,
        quote(secret, safe=""),
        every_byte,
        every_byte.lower(),
        secret.upper(),
        secret.lower(),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        *_base64_inside(raw),
        raw.hex(),  # a debugging gateway's dump (upper-case hex: any mix of cases is caught)
    ]
    half = len(secret) // 2
    if half >= MIN_SECRET:
        # Cut, as error pages do ("token abc123… is invalid"): either half names most of it.
        forms += [secret[:half], secret[-half:]]
    return tuple(dict.fromkeys(forms))


def _base64_inside(raw: bytes) -> list[str]:
    """The part of any base64 text holding `raw` that depends on `raw` alone, whatever comes
    before it (`Bearer TOKEN`, `:TOKEN`, `user:TOKEN` as a proxy echoes a header) and after: at
    each of the three places a byte can sit in a base64 group, the whole groups of `raw`."""
    forms = []
    for offset in range(3):
        data = bytes(offset) + raw
        whole = data[: len(data) // 3 * 3]
        skip = 4 if offset else 0  # the group shared with what came before
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            forms.append(encode(whole).decode()[skip:])
    return forms


def _forms(secrets: Iterable[str]) -> list[str]:
    return [form for secret in secrets for form in echo_forms(secret)]


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every one of `secrets` (long enough to be a credential), in any form it is
    echoed in (`echo_forms`), in any mix of cases, replaced by •••, also split by characters
    that draw nothing."""
    forms = _forms(secrets)
    for form in forms:
        text = text.replace(form, REDACTED)
    folded = text.lower()
    for form in _folded(forms):
        if form in folded:  # in another mix of cases (`TOK-SECRET-…` of `tok-SECRET-…`)
            text = _any_case(form).sub(REDACTED, text)
            folded = text.lower()
    return _redact_split(text, forms)


@functools.lru_cache(maxsize=16)
def _ascii_folded(secrets: tuple[str, ...]) -> tuple[str, ...]:
    """Every form of `secrets`, its ASCII letters lower-cased (as bytes fold theirs)."""
    return tuple(dict.fromkeys(form.encode().lower().decode() for form in _forms(secrets)))


def _folded(forms: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(form.lower() for form in forms))


@functools.lru_cache(maxsize=64)
def _any_case(form: str) -> re.Pattern[str]:
    return re.compile(re.escape(form), re.IGNORECASE)


# What may stand between two characters of an echoed credential and draw nothing: a control or
# invisible character (a zero-width space, a soft hyphen), as it came, as a JSON escape, or as
# `safe_text` shows it (`<U+200B>`, `␊`). A server that splits a token with one is evading a
# byte-for-byte match; the token must still not be shown (K8).
# A percent-encoded one too (`%E2%80%8B`, `%C2%AD`, `%01`): the token split before it was
# percent-encoded.
_PERCENT = r"%[0-1][0-9a-fA-F]|%7[fF]|%[c-fC-F][0-9a-fA-F](?:%[89abAB][0-9a-fA-F]){1,3}"
_SPLIT = (
    rf"(?:{_CONTROL.pattern}|\\u[0-9a-fA-F]{{4}}|<U\+[0-9A-F]{{4,6}}>|[\u2400-\u2421]"
    rf"|{_PERCENT})*"
)
_PERCENT_ENCODED = re.compile(_PERCENT)
_JSON_ESCAPE = re.compile(r'\\u([0-9a-fA-F]{4})|\\([/"\\])')
_SHOWN_INVISIBLE = re.compile(r"<U\+[0-9A-F]{4,6}>|[\u2400-\u2421]")


def _escapes_of_invisible() -> re.Pattern[str]:
    """A JSON escape (`\\u200b`) of a character `_CONTROL` holds (but tab and line breaks)."""
    by_prefix: dict[str, list[str]] = {}
    for code in range(0xD800):  # past it: surrogates (any), then nothing but U+FExx-U+FFxx
        if chr(code) not in "\t\n\r" and _CONTROL.match(chr(code)):
            by_prefix.setdefault(f"{code:04x}"[:3], []).append(f"{code:04x}"[3])
    for code in range(0xE000, 0x10000):
        if _CONTROL.match(chr(code)):
            by_prefix.setdefault(f"{code:04x}"[:3], []).append(f"{code:04x}"[3])
    parts = [f"{prefix}[{''.join(last)}]" for prefix, last in by_prefix.items()]
    return re.compile(r"\\u(?:d[89a-f][0-9a-f]{2}|" + "|".join(parts) + ")", re.IGNORECASE)


_INVISIBLE_ESCAPE = _escapes_of_invisible()
# Characters that draw nothing, as they came or as `safe_text` shows them (`␊`), but tab and
# line breaks: pretty-printed JSON holds them, and no token is split by a line break unseen.
assert _CONTROL.pattern.startswith("[\x00-\x1f") and _CONTROL.pattern.endswith("]")
_DRAWS_NOTHING = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f" + _CONTROL.pattern[len("[\x00-\x1f") : -1] + "\u2400-\u2421]"
)
_PRINTABLE_ASCII = re.compile("[\t\n\r\x20-\x7e]+")


def _may_split(text: str) -> bool:
    """Whether `text` holds anything that may split a credential unseen. A long answer is
    looked at in what is left once its printable ASCII is gone (a class of 1,500 ranges asked
    of every character of a 2 MB answer took 0.12 s; this, 0.02 s)."""
    if "<U+" in text or ("%" in text and _percent_invisible(text) != text):
        return True
    rest = _PRINTABLE_ASCII.sub("", text) if len(text) > 256 else text
    return _DRAWS_NOTHING.search(rest) is not None or (
        "\\u" in text and _INVISIBLE_ESCAPE.search(text) is not None
    )


def _skeleton(text: str) -> str:
    """`text` as it reads: JSON escapes spelled out, and every character that draws nothing
    (or what `safe_text` shows for one) left out."""
    if "\\" in text:
        text = _JSON_ESCAPE.sub(lambda m: chr(int(m[1], 16)) if m[1] else m[2], text)
    if "%" in text:
        text = _percent_invisible(text)
    return _CONTROL.sub("", _SHOWN_INVISIBLE.sub("", text))


def _percent_invisible(text: str) -> str:
    """`text` without the percent-encoded characters that draw nothing (`%E2%80%8B`); other
    percent-encodings stay as they are."""

    def drawn(match: re.Match[str]) -> str:
        try:
            ch = unquote(match.group(), errors="strict")
        except UnicodeDecodeError:
            return match.group()
        return "" if _CONTROL.fullmatch(ch) and ch not in "\t\n\r" else match.group()

    return _PERCENT_ENCODED.sub(drawn, text)


@functools.lru_cache(maxsize=64)
def _split_spelling(form: str) -> re.Pattern[str]:
    """`form` with any run of `_SPLIT` between two of its characters, each character bare or
    as a JSON escape."""
    parts = []
    for ch in form:
        escape = "".join(f"\\\\u{unit:04x}" for unit in _utf16_units(ch))
        escape = "".join(f"[{c}{c.upper()}]" if c.isalpha() and c != "u" else c for c in escape)
        parts.append(f"(?:{escape}|{re.escape(ch)})")
    return re.compile(_SPLIT.join(parts), re.IGNORECASE)


def _utf16_units(ch: str) -> list[int]:
    units = ch.encode("utf-16-be")
    return [int.from_bytes(units[i : i + 2], "big") for i in range(0, len(units), 2)]


def _redact_split(text: str, forms: list[str]) -> str:
    """`text` with every form split by characters that draw nothing replaced by •••. Text
    that holds none of them (printable ASCII, no escape) is passed as it is, without a look."""
    if not forms or not _may_split(text):
        return text
    skeleton = _skeleton(text).lower()
    for form in _folded(forms):
        if form not in skeleton:
            continue

        def hidden(match: re.Match[str], form: str = form) -> str:
            span = match.group()
            return REDACTED if _skeleton(span).lower() == form else span

        text = _split_spelling(form).sub(hidden, text)
    return text


def redact_body(body: bytes, secrets: Iterable[str]) -> bytes:
    """An answer's body with every one of `secrets` replaced by ••• wherever JSON could spell it
    (`\\u0054OK...`, `\\/`, as well as plainly), so that nothing parsed from it, nor the body
    kept raw for export, holds a credential the server echoed (in any of its `echo_forms`, in
    any mix of cases)."""
    lowered: bytes | None = None
    secrets = tuple(secrets)
    for secret in _ascii_folded(secrets):
        if b"\\" not in body:  # no escape at all (the usual case): one spelling, found fast
            lowered = body.lower() if lowered is None else lowered
            if secret.encode() in lowered:
                body = _plain(secret).sub(_REDACTED_BYTES, body)
                lowered = None
            continue
        # Plainly only, unless one of its characters is escaped somewhere.
        spelled = _spellings(secret) if _escapes(secret).search(body) else _plain(secret)
        kept, last = [], 0
        match = spelled.search(body)
        while match is not None:
            if _inside_escape(body, match.start()):  # `\\u00d0` then zeros: no "00000000"
                match = spelled.search(body, match.start() + 1)
                continue
            kept += [body[last : match.start()], _REDACTED_BYTES]
            last = match.end()
            match = spelled.search(body, last)
        body = b"".join([*kept, body[last:]]) if kept else body
    # Split by a character that draws nothing (a zero-width space, a soft hyphen).
    text = body.decode("utf-8", "surrogateescape")
    split = _redact_split(text, _forms(secrets))
    return body if split is text else split.encode("utf-8", "surrogateescape")


_REDACTED_BYTES = REDACTED.encode()
_BACKSLASH = ord("\\")


def _inside_escape(body: bytes, at: int) -> bool:
    """Whether `at` is inside an escape (`\\n`, `\\u00d0`) rather than where a character starts."""
    for start in range(max(0, at - 5), at):
        if body[start] != _BACKSLASH or (start < at - 1 and body[start + 1 : start + 2] != b"u"):
            continue
        before = start
        while before and body[before - 1] == _BACKSLASH:
            before -= 1
        if (start - before) % 2 == 0:  # this backslash is not itself escaped
            return True
    return False


@functools.lru_cache(maxsize=128)
def _plain(secret: str) -> re.Pattern[bytes]:
    return re.compile(re.escape(secret.encode()), re.IGNORECASE)


@functools.lru_cache(maxsize=128)
def _escapes(secret: str) -> re.Pattern[bytes]:
    """An escape of any character of `secret`: where there is none, it can be spelled only
    plainly. (JSON encoders escape non-ASCII text, rarely the letters a credential is made of.)"""
    return re.compile(b"|".join(map(_escaped_any_case, sorted(set(secret)))), re.IGNORECASE)


def _escaped_any_case(ch: str) -> bytes:
    """`_escaped` of `ch` in either case: an escape spells a letter's case by its number."""
    return b"|".join(
        _escaped(c) for c in dict.fromkeys((ch, ch.lower(), ch.upper())) if len(c) == 1
    )


def _escaped(ch: str) -> bytes:
    """The ways JSON can escape `ch`: \\u (hex digits in either case, a surrogate pair beyond
    the BMP), and \\/ \\" \\\\ for those three."""
    units = ch.encode("utf-16-be")
    escape = "".join(
        "\\\\u" + "".join(f"[{d}{d.upper()}]" if d.isalpha() else d for d in f"{unit:04x}")
        for unit in (int.from_bytes(units[i : i + 2], "big") for i in range(0, len(units), 2))
    ).encode()
    return escape + b"|" + re.escape(b"\\" + ch.encode()) if ch in '/"\\' else escape


@functools.lru_cache(maxsize=128)
def _spellings(secret: str) -> re.Pattern[bytes]:
    """Every way a JSON string can hold `secret`: each character bare (but " and \\, never bare
    in a JSON string) or escaped."""
    parts = []
    for ch in secret:
        bare = b"" if ch in '"\\' else b"|" + re.escape(ch.encode())
        parts.append(b"(?:" + _escaped_any_case(ch) + bare + b")")
    return re.compile(b"".join(parts), re.IGNORECASE)


def url_secret(url: str) -> str | None:
    """What to hide of a URL that holds a credential (a database URL): its password, or all of
    it when it cannot be split (a broken IPv6 host), since whatever quotes it then quotes the
    password too. Never raises: it runs while an error is being cleaned."""
    try:
        return urlsplit(url).password if "://" in url else None
    except ValueError:
        return url


class Secret:
    """An API token. Its repr/str never show the value, so no traceback, log or dump can."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> Any:  # pickling would be one more way out
        raise TypeError("a Secret cannot be pickled")
