"""safety.py, the one place external text is made fit for a terminal and JSON for a strict parser:
invisible characters drawn visibly (issue #11), and nothing else changed."""

from __future__ import annotations

import json
import sys
import unicodedata

from hypothesis import example, given, settings
from hypothesis import strategies as st

from d7tui.channels.common import as_float
from d7tui.safety import clean_json, redact_body, safe_text, strict_json

# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt, 15.1): what a renderer draws
# as nothing when it has no glyph. unicodedata has no such property, so it is written out here.
DEFAULT_IGNORABLE = [
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
]


_IGNORABLE = {code for lo, hi in DEFAULT_IGNORABLE for code in range(lo, hi + 1)}


def invisible(ch: str) -> bool:
    return ord(ch) in _IGNORABLE or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp")


def test_the_characters_named_in_the_issue_are_shown() -> None:
    named = [*range(0x200B, 0x2010), 0x2028, 0x2029, *range(0x2060, 0x2065), 0xFEFF]
    named += [0xE0001, 0xE0020, 0xE0041, 0xE007F]  # tag characters
    for code in named:
        assert safe_text(f"a{chr(code)}b") == f"a<U+{code:04X}>b"


def test_every_format_separator_and_ignorable_character_is_shown() -> None:
    # Checked against this Python's own Unicode data, so a newer Unicode adding a format
    # character shows up here.
    every = "".join(ch for ch in map(chr, range(sys.maxunicode + 1)) if invisible(ch))
    shown = safe_text(every, limit=len(every) * 10)
    assert [f"U+{ord(ch):04X}" for ch in shown if invisible(ch)] == []


@settings(max_examples=300, derandomize=True)
@given(st.text(st.characters(exclude_categories=("Cc", "Cf", "Cs", "Zl", "Zp", "Co", "Cn"))))
def test_text_that_draws_is_left_as_it_is(text: str) -> None:
    text = "".join(ch for ch in text if not invisible(ch))
    assert safe_text(text, limit=10**6) == text


def test_a_look_alike_recipient_no_longer_looks_alike() -> None:
    real, fake = "+971501234567", "+97150\u200b1234567\u2060"
    assert safe_text(fake) != real and len(safe_text(fake)) > len(real)


def test_not_a_number_is_no_cost_and_never_reaches_json() -> None:
    for raw in (float("nan"), float("inf"), float("-inf"), "NaN", "Infinity", "-inf", 10**400):
        assert as_float(raw) is None, raw
    assert as_float("0.0042") == 0.0042
    # What the vendor sent stays readable among the fields, as text.
    fields = clean_json(json.loads('{"a": NaN, "b": [Infinity, -Infinity], "c": 1.5}'))
    assert fields == {"a": "NaN", "b": ["Infinity", "-Infinity"], "c": 1.5}


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text() | st.text("k", min_size=190, max_size=210), inner, max_size=4)
    ),
    max_leaves=20,
)


def _every_string_cleaned(value: object) -> object:
    """What clean_json must give: safe_text of every string, keys (at most 200 characters)
    too, NaN and Infinity as their text, nothing else changed."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, float) and value != value:
        return "NaN"
    if isinstance(value, float) and abs(value) == float("inf"):
        return "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, dict):
        return {safe_text(k, 200): _every_string_cleaned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_every_string_cleaned(v) for v in value]
    return value


@settings(max_examples=300, derandomize=True)
@given(_JSON)
@example({"k" * 201: {"\x1b": ["a\tb", float("nan")]}, "plain": {"k": [1, True, None]}})
def test_clean_json_cleans_every_string_at_every_level_and_nothing_else(value: object) -> None:
    # Its quick paths (printable ASCII, values json.loads makes) must be the long way's equal.
    assert clean_json(value) == _every_string_cleaned(value)


def test_strict_json_writes_null_for_what_is_not_a_number() -> None:
    value = {"cost": float("nan"), "list": [1.0, float("inf")], "ok": "NaN"}
    text = strict_json(value)
    assert json.loads(text, parse_constant=lambda token: 1 / 0) == {
        "cost": None,
        "list": [1.0, None],
        "ok": "NaN",
    }
    assert strict_json({"a": 1}, separators=(",", ":")) == '{"a":1}'


_SECRETS = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=8, max_size=40
)


@settings(max_examples=60, deadline=None)
@given(secret=_SECRETS, around=st.text(max_size=10), ascii_only=st.booleans())
def test_a_credential_is_redacted_however_json_spells_it(
    secret: str, around: str, ascii_only: bool
) -> None:
    """Plainly, in \\u escapes (a server's JSON library may write every non-ASCII character so),
    with an escaped slash, quote or backslash: the parsed answer never holds the credential."""
    spelled = json.dumps({"k": around + secret + around}, ensure_ascii=ascii_only)
    variants = [spelled, spelled.replace("/", "\\/")]
    units = secret[0].encode("utf-16-be")
    escape = "".join(f"\\u{units[i] << 8 | units[i + 1]:04X}" for i in range(0, len(units), 2))
    variants.append(spelled.replace(secret[0], escape, 1))
    for body in variants:
        try:
            said = json.loads(body)["k"]
        except ValueError:
            continue  # a replace that broke an escape of its own: not a body a server sends
        cleaned = json.loads(redact_body(body.encode(), [secret]))
        assert secret not in cleaned["k"]
        assert ("•••" in cleaned["k"]) == (secret in said)


def test_a_short_secret_is_left_alone() -> None:
    # A one-letter test token would otherwise eat every such letter of every answer.
    assert redact_body(b'{"k": "tok"}', ["tok"]) == b'{"k": "tok"}'
