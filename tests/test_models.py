"""The model: status → phase mapping, how updates become transitions, id validation, and the
defences every external string and every secret goes through."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from d7tui.models import (
    Channel,
    InvalidId,
    Phase,
    Recipient,
    RequestStatus,
    Target,
    classify_d7,
    classify_infobip,
    observe,
    split_ids,
    validate_id,
)
from d7tui.safety import MAX_DEPTH, Secret, clean_json, one_line, safe_text

# ---------------------------------------------------------------------------------------------
# D7 statuses


D7_TABLE = [
    # SMS page (000/001)
    ("delivered", Phase.DELIVERED, True),
    ("sent", Phase.PENDING, False),
    ("scheduled", Phase.PENDING, False),
    ("un_delivered", Phase.FAILED, True),
    ("undelivered", Phase.FAILED, True),  # the postback page and Viber's spelling
    ("not_reachable", Phase.FAILED, True),
    ("spam_content", Phase.FAILED, True),
    ("insufficient_credit", Phase.FAILED, True),
    # WhatsApp page (002) and D7's RapidAPI listing
    ("processed", Phase.PENDING, False),
    ("rejected", Phase.FAILED, True),
    ("read", Phase.READ, True),
    ("queued", Phase.PENDING, False),
    ("dropped", Phase.FAILED, True),
]


@pytest.mark.parametrize(("raw", "phase", "final"), D7_TABLE)
@pytest.mark.parametrize("channel", [Channel.SMS, Channel.VIBER])
def test_d7_status_table(channel: Channel, raw: str, phase: Phase, final: bool) -> None:
    assert classify_d7(channel, raw) == (phase, final)


@pytest.mark.parametrize(("raw", "phase", "final"), D7_TABLE)
def test_whatsapp_delivered_is_the_only_difference(raw: str, phase: Phase, final: bool) -> None:
    expected = (phase, False) if raw == "delivered" else (phase, final)
    assert classify_d7(Channel.WHATSAPP, raw) == expected


def test_d7_status_spelling_is_forgiven_case_and_spaces() -> None:
    assert classify_d7(Channel.SMS, " Delivered ") == (Phase.DELIVERED, True)
    assert classify_d7(Channel.SMS, "UN_DELIVERED") == (Phase.FAILED, True)
    assert classify_d7(Channel.WHATSAPP, "Read") == (Phase.READ, True)


@pytest.mark.parametrize("raw", [None, "", "teleported", 5, 1.5, True, [], {}, ["delivered"]])
def test_unknown_d7_status_is_unknown_never_an_error(raw: object) -> None:
    assert classify_d7(Channel.SMS, raw) == (Phase.UNKNOWN, False)


@given(st.text())
def test_any_text_status_classifies(raw: str) -> None:
    phase, final = classify_d7(Channel.WHATSAPP, raw)
    assert phase in Phase and isinstance(final, bool)
    assert not (phase is Phase.UNKNOWN and final)


# ---------------------------------------------------------------------------------------------
# Infobip statuses: API-NOTES B3, every row


B3 = [
    (1, "PENDING", 3, "PENDING_WAITING_DELIVERY"),
    (1, "PENDING", 7, "PENDING_ENROUTE"),
    (1, "PENDING", 26, "PENDING_ACCEPTED"),
    (2, "UNDELIVERABLE", 4, "UNDELIVERABLE_REJECTED_OPERATOR"),
    (2, "UNDELIVERABLE", 9, "UNDELIVERABLE_NOT_DELIVERED"),
    (2, "UNDELIVERABLE", 31, "UNDELIVERABLE_NOT_SENT"),
    (3, "DELIVERED", 2, "DELIVERED_TO_OPERATOR"),
    (3, "DELIVERED", 5, "DELIVERED_TO_HANDSET"),
    (4, "EXPIRED", 15, "EXPIRED_EXPIRED"),
    (4, "EXPIRED", 29, "EXPIRED_DLR_UNKNOWN"),
    (5, "REJECTED", 6, "REJECTED_NETWORK"),
    (5, "REJECTED", 8, "REJECTED_PREFIX_MISSING"),
    (5, "REJECTED", 10, "REJECTED_DND"),
    (5, "REJECTED", 11, "REJECTED_SOURCE"),
    (5, "REJECTED", 12, "REJECTED_NOT_ENOUGH_CREDITS"),
    (5, "REJECTED", 13, "REJECTED_SENDER"),
    (5, "REJECTED", 14, "REJECTED_DESTINATION_BLOCKLISTED"),
    (5, "REJECTED", 19, "REJECTED_ROUTE_NOT_AVAILABLE"),
    (5, "REJECTED", 20, "REJECTED_FLOODING_FILTER"),
    (5, "REJECTED", 21, "REJECTED_SYSTEM_ERROR"),
    (5, "REJECTED", 23, "REJECTED_DUPLICATE_MESSAGE_ID"),
    (5, "REJECTED", 25, "REJECTED_MESSAGE_TOO_LONG"),
    (5, "REJECTED", 51, "MISSING_TO"),
    (5, "REJECTED", 52, "REJECTED_DESTINATION"),
]


def _expected(group: str, name: str) -> tuple[Phase, bool]:
    """The lifecycle rule of B3, restated: PENDING_* and DELIVERED_TO_OPERATOR intermediate;
    DELIVERED_TO_HANDSET, UNDELIVERABLE_*, EXPIRED_*, REJECTED_* final."""
    if group == "PENDING":
        return Phase.PENDING, False
    if group == "DELIVERED":
        return Phase.DELIVERED, name == "DELIVERED_TO_HANDSET"
    return Phase.FAILED, True


@pytest.mark.parametrize(("group_id", "group", "status_id", "name"), B3)
def test_every_b3_status_as_the_api_sends_it(
    group_id: int, group: str, status_id: int, name: str
) -> None:
    assert classify_infobip(group, name, group_id) == _expected(group, name)


@pytest.mark.parametrize(("group_id", "group", "status_id", "name"), B3)
def test_every_b3_status_from_name_and_group_id_alone(
    group_id: int, group: str, status_id: int, name: str
) -> None:
    assert classify_infobip(None, name, group_id) == _expected(group, name)


def test_phase_comes_from_the_status_name_before_the_group() -> None:
    # DELIVERED_TO_OPERATOR is in group DELIVERED, yet a handset report may still follow.
    assert classify_infobip("DELIVERED", "DELIVERED_TO_OPERATOR", 3) == (Phase.DELIVERED, False)
    assert classify_infobip("DELIVERED", "DELIVERED_TO_HANDSET", 3) == (Phase.DELIVERED, True)
    # A DELIVERED-group name nobody documented: delivered, but not provably to the handset.
    assert classify_infobip("DELIVERED", "DELIVERED_TO_MOON", 3) == (Phase.DELIVERED, False)
    assert classify_infobip("delivered", "delivered_to_handset") == (Phase.DELIVERED, True)
    assert classify_infobip("ACCEPTED", "ACCEPTED_SOMETHING") == (Phase.PENDING, False)
    assert classify_infobip(None, "UNDELIVERABLE_NEW_REASON") == (Phase.FAILED, True)


@pytest.mark.parametrize(
    "args",
    [(None, None, None), ("", "", None), ("GALAXY", "GALAXY_FAR", 99), (3, 5, "3"), ([], {}, True)],
)
def test_unknown_infobip_status_is_unknown(args: tuple[object, object, object]) -> None:
    assert classify_infobip(*args) == (Phase.UNKNOWN, False)


# ---------------------------------------------------------------------------------------------
# Updates become transitions


def rcp(key: str, status: str | None, phase: Phase, final: bool = False) -> Recipient:
    return Recipient(msg_id=key, recipient=f"+{key}", status=status, phase=phase, final=final)


def req(*recipients: Recipient, incremental: bool = False, raw: bytes = b"") -> RequestStatus:
    return RequestStatus(
        request_id="bulk-1",
        channel=Channel.INFOBIP if incremental else Channel.SMS,
        recipients=recipients,
        raw=(raw,) if raw else (),
        incremental=incremental,
    )


def test_first_observation_is_a_transition_per_recipient() -> None:
    state, transitions = observe(None, req(rcp("a", "sent", Phase.PENDING)), at=1.0)
    assert [
        (t.recipient_key, t.old_status, t.new_status, t.old_phase, t.new_phase) for t in transitions
    ] == [("a", None, "sent", None, Phase.PENDING)]
    assert transitions[0].at == 1.0 and transitions[0].request_id == "bulk-1"
    assert state.recipients == (rcp("a", "sent", Phase.PENDING),)
    assert state.incremental is False


def test_full_report_replaces_and_reports_only_changes() -> None:
    before, _ = observe(
        None, req(rcp("a", "sent", Phase.PENDING), rcp("b", "sent", Phase.PENDING)), at=1.0
    )
    after, transitions = observe(
        before,
        req(rcp("a", "sent", Phase.PENDING), rcp("b", "delivered", Phase.DELIVERED, True)),
        at=2.0,
    )
    assert [(t.recipient_key, t.old_status, t.new_status) for t in transitions] == [
        ("b", "sent", "delivered")
    ]
    assert after.final is False
    again, transitions = observe(after, after, at=3.0)
    assert transitions == [] and again.recipients == after.recipients


def test_incremental_reports_apply_one_by_one() -> None:
    before, _ = observe(
        None, req(rcp("m1", "PENDING_ENROUTE", Phase.PENDING), incremental=True), at=1.0
    )
    batch = req(
        rcp("m1", "DELIVERED_TO_OPERATOR", Phase.DELIVERED),
        rcp("m1", "DELIVERED_TO_HANDSET", Phase.DELIVERED, True),
        incremental=True,
    )
    after, transitions = observe(before, batch, at=2.0)
    # The intermediate and the final report, handed out together, are two transitions.
    assert [(t.old_status, t.new_status) for t in transitions] == [
        ("PENDING_ENROUTE", "DELIVERED_TO_OPERATOR"),
        ("DELIVERED_TO_OPERATOR", "DELIVERED_TO_HANDSET"),
    ]
    assert after.recipients == (rcp("m1", "DELIVERED_TO_HANDSET", Phase.DELIVERED, True),)
    assert after.final


def test_incremental_update_keeps_recipients_it_does_not_mention() -> None:
    before, _ = observe(
        None,
        req(
            rcp("m1", "PENDING_ENROUTE", Phase.PENDING),
            rcp("m2", "PENDING_ENROUTE", Phase.PENDING),
            incremental=True,
        ),
        at=1.0,
    )
    after, transitions = observe(
        before, req(rcp("m2", "REJECTED_DND", Phase.FAILED, True), incremental=True), at=2.0
    )
    assert [t.recipient_key for t in transitions] == ["m2"]
    assert [r.key for r in after.recipients] == ["m1", "m2"]
    assert after.recipients[1].status == "REJECTED_DND"
    # An empty pull (nothing new) changes nothing.
    same, transitions = observe(after, req(incremental=True), at=3.0)
    assert transitions == [] and same.recipients == after.recipients


def test_a_repeated_report_in_one_batch_is_not_a_second_transition() -> None:
    batch = req(
        rcp("m1", "DELIVERED_TO_HANDSET", Phase.DELIVERED, True),
        rcp("m1", "DELIVERED_TO_HANDSET", Phase.DELIVERED, True),
        incremental=True,
    )
    _, transitions = observe(None, batch, at=1.0)
    assert len(transitions) == 1


def test_raw_bodies_accumulate_for_incremental_and_stay_bounded() -> None:
    state = None
    for i in range(30):
        state, _ = observe(state, req(incremental=True, raw=f"body{i}".encode()), at=float(i))
    assert state is not None
    assert len(state.raw) == 20 and state.raw[-1] == b"body29"
    full, _ = observe(state, req(raw=b"full"), at=99.0)
    assert full.raw == (b"full",)


def test_request_status_helpers() -> None:
    status = RequestStatus(
        request_id="r",
        channel=Channel.INFOBIP,
        recipients=(
            Recipient("a", None, "x", Phase.DELIVERED, True, cost=0.25, currency="EUR"),
            Recipient("b", None, "y", Phase.FAILED, True, cost=0.5, currency="USD"),
            Recipient("c", None, "z", Phase.PENDING, False),
        ),
    )
    assert not status.final
    counts = status.phase_counts()
    assert counts[Phase.DELIVERED] == counts[Phase.FAILED] == counts[Phase.PENDING] == 1
    assert counts[Phase.READ] == counts[Phase.UNKNOWN] == 0
    assert status.total_cost() == (0.75, None)  # mixed currencies: no single currency to name
    assert RequestStatus("r", Channel.SMS, ()).final is False
    assert RequestStatus("r", Channel.SMS, ()).total_cost() is None


def test_recipient_key_and_to_json() -> None:
    r = Recipient(None, "+1", "sent", Phase.PENDING, False, fields={"status": "shadow", "x": 1})
    assert r.key == "+1"
    out = r.to_json()
    # A vendor field never shadows ours: the vendor's keys are all under `fields`.
    assert out["status"] == "sent" and out["fields"] == {"status": "shadow", "x": 1}
    assert "problem" not in out
    assert (
        Recipient(None, None, None, Phase.UNKNOWN, False, problem="bad").to_json()["problem"]
        == "bad"
    )


def test_target() -> None:
    assert Target("x", "infobip").is_infobip
    assert not Target("x").is_infobip


# ---------------------------------------------------------------------------------------------
# Ids


def test_d7_ids_are_uuids_normalized() -> None:
    rid = "9d056a09-0fc4-4f68-9058-3846d58aa244"
    assert validate_id(rid, "sms") == rid
    assert validate_id(f"  {rid.upper()}\n", "auto") == rid
    assert validate_id(rid.replace("-", ""), "whatsapp") == rid


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "not-a-uuid",
        "9d056a09-0fc4-4f68-9058-3846d58aa24",
        "{9d056a09-0fc4-4f68-9058-3846d58aa244}",
        "urn:uuid:9d056a09-0fc4-4f68-9058-3846d58aa244",
        "../../etc/passwd",
        "9d056a09-0fc4-4f68-9058-3846d58aa244/../x",
        "\x1b]0;title\x07",
    ],
)
@pytest.mark.parametrize("channel", ["auto", "sms", "whatsapp", "viber"])
def test_d7_non_uuid_ids_are_refused(channel: str, raw: str) -> None:
    with pytest.raises(InvalidId) as info:
        validate_id(raw, channel)
    message = str(info.value)
    assert "\n" not in message and message.isprintable()


def test_infobip_ids() -> None:
    assert validate_id("BULK-ID-123-xyz", "infobip") == "BULK-ID-123-xyz"
    assert validate_id("12db39c3-7822-4e72-a3ec-c87442c0ffc5", "infobip")
    assert validate_id("a+b=c.d_e:f~g@h", "infobip") == "a+b=c.d_e:f~g@h"
    for bad in ["a/../b", "a b", "a&limit=1", "a?b", "a#b", "a%2Fb", "x" * 201, "é", "a\nb"]:
        with pytest.raises(InvalidId) as info:
            validate_id(bad, "infobip")
        assert "\n" not in str(info.value) and str(info.value).isprintable()


def test_split_ids() -> None:
    assert split_ids("a, b;c\n d\t\te,,\n") == ["a", "b", "c", "d", "e"]
    assert split_ids(" \n ") == []


# ---------------------------------------------------------------------------------------------
# Safe text and secrets


def test_safe_text_makes_controls_visible() -> None:
    assert safe_text("a\x1b[31mb") == "a\u241b[31mb"
    assert safe_text("\x9b2J") == "<U+009B>2J"
    assert safe_text("\x7f") == "\u2421"
    assert safe_text("abc\u202egpj.exe") == "abc<U+202E>gpj.exe"
    assert safe_text("x\ud800y\udfff") == "x<U+D800>y<U+DFFF>"  # as SECURITY.md says: visible
    assert safe_text("plain ünïcødé ✓") == "plain ünïcødé ✓"
    long = safe_text("x" * 5000, limit=10)
    assert long.startswith("x" * 10) and "5,000 characters" in long


def test_clean_json_cleans_keys_and_bounds_depth() -> None:
    assert clean_json({"\x1bk": ["\x1bv", 1, None, True]}) == {
        "\u241bk": ["\u241bv", 1, None, True]
    }
    deep: object = "leaf"
    for _ in range(200):
        deep = [deep]
    cleaned = clean_json(deep)
    depth = 0
    while isinstance(cleaned, list):
        cleaned = cleaned[0]
        depth += 1
    assert depth == MAX_DEPTH and isinstance(cleaned, str) and "nested deeper" in cleaned


def test_one_line() -> None:
    assert one_line("a  b   c") == "a b c"
    assert one_line("a\n  b\tc") == "a\u240a b\u2409c"  # line breaks shown, never made
    assert len(one_line("word " * 200, limit=50)) == 50


def test_an_error_of_many_lines_is_one_line_of_words() -> None:
    from d7tui.safety import error_line

    # PostgreSQL's own message, as psycopg raises it: its breaks are spaces, not ␊␉.
    said = OSError(
        "consuming input failed: server closed the connection unexpectedly\n\tThis probably "
        "means the server terminated abnormally\n\tbefore or while processing the request."
    )
    assert error_line(said) == (
        "consuming input failed: server closed the connection unexpectedly This probably means "
        "the server terminated abnormally before or while processing the request."
    )
    assert error_line(ValueError("bad \x1b[31m")) == "bad \u241b[31m"  # escapes still shown


def test_secret_never_shows_its_value() -> None:
    secret = Secret("tok-123456")
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret!r}", repr([secret])):
        assert "tok-123456" not in shown
    assert secret.reveal() == "tok-123456"
    assert bool(secret) and not Secret("")
    assert repr(Secret("")) == "Secret('')"
    assert secret == Secret("tok-123456") and secret != Secret("other")
    assert secret != "tok-123456"
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_a_late_intermediate_infobip_report_does_not_undo_a_final_one() -> None:
    from d7tui.models import Channel, Phase, Recipient, RequestStatus, observe

    def report(name: str, final: bool) -> Recipient:
        return Recipient("m1", "41793026727", name, Phase.DELIVERED, final)

    first = RequestStatus(
        "B", Channel.INFOBIP, (report("DELIVERED_TO_HANDSET", True),), incremental=True
    )
    state, _ = observe(None, first, 1.0)
    late = RequestStatus(
        "B", Channel.INFOBIP, (report("DELIVERED_TO_OPERATOR", False),), incremental=True
    )
    state, transitions = observe(state, late, 2.0)
    assert transitions == []
    assert state.recipients[0].status == "DELIVERED_TO_HANDSET" and state.final
