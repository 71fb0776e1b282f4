"""The explanation table against what the vendors document, and explanations as a support
engineer reads them: plain words, permanent or temporary, the next step; unknown codes said so."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from d7tui import codes
from d7tui.channels import infobip
from d7tui.explain import Outcome, explain, explain_d7, explain_infobip
from d7tui.models import Channel, Phase, Recipient, classify_d7, classify_infobip
from d7tui.simulator import lifecycles

FIXTURES = Path(__file__).parent / "fixtures"
SEEDS = Path("/work/shared/seeds")
NOTES = Path("/work/shared/API-NOTES.md")

STATUS_PAGES = {
    Channel.SMS: ("d7_sms_statuses_000.txt", "000_8222ebbd16015245.txt"),
    Channel.WHATSAPP: ("d7_whatsapp_statuses_002.txt", "002_462e47a82970b007.txt"),
    Channel.VIBER: ("d7_viber_statuses_004.txt", "004_704e79d5efa74dcf.txt"),
}
INFOBIP_CODES = "infobip_codes_api_notes_b3_b4.md"


def documented_statuses(channel: Channel) -> list[str]:
    row = (FIXTURES / STATUS_PAGES[channel][0]).read_text(encoding="utf-8")
    return re.findall(r"\[(\w+) - [^\]]+\]", row)


def infobip_documented() -> tuple[list[tuple[int, int, str, bool]], list[tuple[int, int, str]]]:
    """(errors as (group, id, name, perm), statuses as (group, id, name)) from B3/B4's rows."""
    statuses, errors = [], []
    table = None
    for line in (FIXTURES / INFOBIP_CODES).read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] == "groupId":
            table = "errors" if "permanent" in cells[2] else "statuses"
            continue
        if not cells[0].isdigit():
            continue
        group = int(cells[0])
        for ident_text, name, rest in re.findall(r"(\d+) ([A-Z_]+)( \([^)]*\))?", cells[2]):
            ident = int(ident_text)
            if table == "errors":
                errors.append((group, ident, name, "perm" in rest))
            else:
                statuses.append((group, ident, name))
    return errors, statuses


# -- the table is complete -----------------------------------------------------------------------


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the vendor pages are not on this machine")
def test_the_documented_lists_are_verbatim_from_their_sources() -> None:
    for fixture, page in STATUS_PAGES.values():
        text = (FIXTURES / fixture).read_text(encoding="utf-8").rstrip("\n")
        assert text in (SEEDS / page).read_text(encoding="utf-8"), fixture
    if NOTES.is_file():
        notes = NOTES.read_text(encoding="utf-8")
        for line in (FIXTURES / INFOBIP_CODES).read_text(encoding="utf-8").splitlines():
            assert line in notes, line


@pytest.mark.parametrize("channel", list(STATUS_PAGES))
def test_every_status_a_d7_page_documents_is_explained_for_its_channel(channel) -> None:
    listed = documented_statuses(channel)
    assert len(listed) >= 3  # the fixture was really read
    for status in listed:
        explanation = explain_d7(channel, status)
        assert explanation is not None and explanation.known, (channel, status)
        assert channel in codes.D7_STATUSES[status]
        assert "not for" not in explanation.meaning  # documented for this very channel


def test_every_infobip_status_and_error_in_the_notes_is_in_the_table_with_its_group() -> None:
    errors, statuses = infobip_documented()
    assert len(statuses) == 24 and len(errors) == 29
    for group, ident, name in statuses:
        assert codes.INFOBIP_STATUSES[ident][:2] == (name, group), name
        explanation = explain_infobip({"groupId": group, "id": ident, "name": name}, {})
        assert explanation is not None and explanation.known
    for group, ident, name, permanent in errors:
        assert codes.INFOBIP_ERRORS[ident][:2] == (name, group), name
        if permanent:
            assert codes.INFOBIP_ERRORS[ident][2].outcome is Outcome.PERMANENT, name
    assert set(codes.INFOBIP_STATUSES) == {i for _, i, _ in statuses}
    assert set(codes.INFOBIP_ERRORS) == {i for _, i, _, _ in errors}


def test_every_status_and_error_the_simulator_sends_is_known_under_the_same_id() -> None:
    for name, (group, _, ident, _) in lifecycles.INFOBIP_STATUS.items():
        assert codes.INFOBIP_STATUSES[ident][:2] == (name, group)
    for name, (group, _, ident, _, _) in lifecycles.INFOBIP_ERROR.items():
        assert codes.INFOBIP_ERRORS[ident][:2] == (name, group)


def test_every_row_reads_as_sentences_and_agrees_with_the_phase_d7tui_shows() -> None:
    rows = [row for by in codes.D7_STATUSES.values() for row in by.values()]
    rows += [row for _, _, row in codes.INFOBIP_STATUSES.values()]
    rows += [row for _, _, row in codes.INFOBIP_ERRORS.values()]
    rows += [row for _, row in codes.INFOBIP_STATUS_GROUPS.values()]
    rows += [row for _, row in codes.INFOBIP_ERROR_GROUPS.values()]
    for row in rows:
        assert row.meaning.endswith(".") and row.next_step.endswith(".")
        assert row.outcome is not Outcome.UNKNOWN
    expected = {
        Phase.PENDING: {Outcome.IN_PROGRESS},
        Phase.DELIVERED: {Outcome.SUCCESS},
        Phase.READ: {Outcome.SUCCESS},
        Phase.FAILED: {Outcome.TEMPORARY, Outcome.PERMANENT},
    }
    for status, by_channel in codes.D7_STATUSES.items():
        for channel, row in by_channel.items():
            assert row.outcome in expected[classify_d7(channel, status)[0]], status
    for name, group, row in codes.INFOBIP_STATUSES.values():
        # What a status is counted as and what its explanation says agree (an operator's
        # DELIVERED_TO_OPERATOR is delivered in both, not "in progress" in one of them).
        assert row.outcome in expected[classify_infobip(None, name, group)[0]], name


def test_only_the_accounts_own_money_points_to_the_balance() -> None:
    pointing = {
        status for status, by in codes.D7_STATUSES.items() for row in by.values() if row.credit
    }
    pointing |= {name for name, _, row in codes.INFOBIP_STATUSES.values() if row.credit}
    pointing |= {name for name, _, row in codes.INFOBIP_ERRORS.values() if row.credit}
    assert pointing == {
        "insufficient_credit",
        "REJECTED_NOT_ENOUGH_CREDITS",
        "EC_MONTHLY_LIMIT_REACHED",
    }
    # The recipient's prepaid phone credit is not ours: it says so instead.
    out = codes.INFOBIP_ERRORS[581][2]
    assert "not your account's balance" in out.meaning


# -- what an engineer reads ----------------------------------------------------------------------


def d7(channel: Channel, status: str, phase: Phase = Phase.FAILED) -> Recipient:
    return Recipient("m1", "+971500000001", status, phase, True)


def test_absent_subscriber_is_temporary_and_says_to_check_signal_and_resend() -> None:
    item = {
        "messageId": "m1",
        "to": "41793026727",
        "status": {
            "groupId": 2,
            "groupName": "UNDELIVERABLE",
            "id": 9,
            "name": "UNDELIVERABLE_NOT_DELIVERED",
            "description": "Message sent not delivered",
        },
        "error": {
            "groupId": 1,
            "groupName": "HANDSET_ERRORS",
            "id": 27,
            "name": "EC_ABSENT_SUBSCRIBER",
            "description": "Absent Subscriber",
            "permanent": False,
        },
    }
    explanation = explain(Channel.INFOBIP, infobip.parse_item(item, 0))
    assert explanation is not None and explanation.known
    assert explanation.code == "UNDELIVERABLE_NOT_DELIVERED / EC_ABSENT_SUBSCRIBER"
    assert explanation.outcome is Outcome.TEMPORARY and explanation.permanent is False
    assert "off or out of coverage" in explanation.meaning
    assert "signal" in explanation.next_step and "send again" in explanation.next_step


def test_spam_content_is_permanent_for_this_text() -> None:
    explanation = explain(Channel.SMS, d7(Channel.SMS, "spam_content"))
    assert explanation is not None
    assert explanation.outcome is Outcome.PERMANENT and explanation.permanent is True
    assert "spam" in explanation.meaning
    assert "same text fails again" in explanation.next_step


def test_the_same_word_means_what_its_channel_means() -> None:
    sms = explain_d7(Channel.SMS, "sent")
    whatsapp = explain_d7(Channel.WHATSAPP, "delivered")
    assert sms is not None and "operator" in sms.meaning and sms.outcome is Outcome.IN_PROGRESS
    assert whatsapp is not None and "read receipts" in whatsapp.meaning
    # Both spellings of the SMS failure, and Viber's own, are known; case does not matter.
    for channel, status in ((Channel.SMS, "UN_DELIVERED"), (Channel.SMS, "undelivered")):
        explanation = explain_d7(channel, status)
        assert explanation is not None and explanation.known
    viber = explain_d7(Channel.VIBER, "undelivered")
    assert viber is not None and "Viber" in viber.meaning


def test_a_status_documented_only_for_another_channel_says_so() -> None:
    explanation = explain_d7(Channel.SMS, "read", phase=Phase.READ)
    assert explanation is not None and explanation.known
    assert "documents 'read' for whatsapp, not for sms" in explanation.meaning


def test_an_unknown_d7_status_says_so_and_shows_the_raw_value() -> None:
    explanation = explain_d7(Channel.SMS, "Frobnicated", phase=Phase.UNKNOWN)
    assert explanation is not None
    assert not explanation.known and explanation.code == "Frobnicated"
    assert "The status 'Frobnicated' is not one D7 documents for sms" in explanation.meaning
    assert explanation.outcome is Outcome.UNKNOWN and explanation.permanent is None
    assert "D7 support" in explanation.next_step


def test_an_unknown_infobip_error_says_so_and_falls_back_on_its_group() -> None:
    explanation = explain_infobip(
        {
            "groupId": 2,
            "groupName": "UNDELIVERABLE",
            "id": 9,
            "name": "UNDELIVERABLE_NOT_DELIVERED",
        },
        {"groupId": 3, "groupName": "OPERATOR_ERRORS", "id": 9999, "name": "EC_SOMETHING_NEW"},
    )
    assert explanation is not None and not explanation.known
    assert "EC_SOMETHING_NEW" in explanation.code
    assert "error 'EC_SOMETHING_NEW' id 9999 is not in d7tui's table" in explanation.meaning
    assert "OPERATOR_ERRORS means" in explanation.meaning
    assert explanation.outcome is Outcome.PERMANENT  # the group's reading


def test_an_infobip_status_with_nothing_known_but_a_name_says_unknown() -> None:
    explanation = explain_infobip({"id": 4242, "name": "WHATEVER"}, {}, phase=Phase.UNKNOWN)
    assert explanation is not None and not explanation.known
    assert "status 'WHATEVER' id 4242 is not in d7tui's table." in explanation.meaning
    assert explanation.outcome is Outcome.UNKNOWN
    assert "Infobip support" in explanation.next_step


def test_the_reports_own_permanent_flag_wins_for_that_message() -> None:
    status = {"groupId": 2, "id": 9, "name": "UNDELIVERABLE_NOT_DELIVERED"}
    table_says = explain_infobip(status, {"groupId": 1, "id": 27, "name": "EC_ABSENT_SUBSCRIBER"})
    report_says = explain_infobip(
        status, {"groupId": 1, "id": 27, "name": "EC_ABSENT_SUBSCRIBER", "permanent": True}
    )
    assert table_says is not None and table_says.outcome is Outcome.TEMPORARY
    assert report_says is not None and report_says.outcome is Outcome.PERMANENT


def test_delivered_without_an_error_is_success_and_no_error_is_not_a_cause() -> None:
    explanation = explain_infobip(
        {"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET"},
        {"groupId": 0, "groupName": "Ok", "id": 0, "name": "NO_ERROR", "permanent": False},
    )
    assert explanation is not None and explanation.code == "DELIVERED_TO_HANDSET"
    assert explanation.outcome is Outcome.SUCCESS


def test_infobip_out_of_credit_points_to_the_balance() -> None:
    explanation = explain_infobip(
        {"groupId": 5, "id": 12, "name": "REJECTED_NOT_ENOUGH_CREDITS"}, {}
    )
    assert explanation is not None and explanation.credit
    assert explanation.to_json()["points_to_balance"] is True


def test_a_hostile_status_reaches_the_explanation_only_as_plain_one_line_text() -> None:
    explanation = explain_d7(Channel.SMS, "evil\x1b]0;owned\x07\nline")
    assert explanation is not None
    text = explanation.line() + explanation.code
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text)


def test_no_status_at_all_has_no_explanation() -> None:
    assert explain(Channel.SMS, Recipient("m", "+1", None, Phase.UNKNOWN, False)) is None
    assert explain(Channel.INFOBIP, Recipient("m", "+1", None, Phase.UNKNOWN, False)) is None


def test_json_carries_every_part_of_the_explanation() -> None:
    explanation = explain_d7(Channel.SMS, "not_reachable")
    assert explanation is not None
    assert explanation.to_json() == {
        "code": "not_reachable",
        "known": True,
        "meaning": explanation.meaning,
        "outcome": "temporary failure",
        "permanent": False,
        "next_step": explanation.next_step,
        "points_to_balance": False,
    }
