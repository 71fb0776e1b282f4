"""Keys a user remaps in config.toml's [keymap], applied with App.set_keymap; a bad entry is
reported with the file and the key, and the rest still works."""

from __future__ import annotations

import re
from pathlib import Path

from ui_kit import idle, said, screen_text, sim_settings, until

from d7tui.config import load_settings
from d7tui.models import Target
from d7tui.pollstate import PollConfig
from d7tui.safety import Secret
from d7tui.simulator import Step
from d7tui.ui.app import farewell_text, make_app
from d7tui.ui.keymap import resolve as resolve_keymap
from d7tui.ui.screens.help import HelpScreen
from d7tui.ui.widgets.watchlist_table import WatchlistTable
from d7tui.watchlist import SortKey

CONFIG = """
[keymap]
sort = "o"
"d7tui.cursor_down" = "down,n"
teleport = "x"
quit = "ctrl q q"
filter = 5
archive_view = "k"
refresh = "n"
"""


def test_the_keymap_table_is_read_and_bad_values_are_named(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    settings = load_settings(env={}, path=path)
    assert settings.keymap == {
        "sort": "o",
        "d7tui.cursor_down": "down,n",
        "teleport": "x",
        "quit": "ctrl q q",
        "archive_view": "k",
        "refresh": "n",
    }
    assert settings.warnings == (
        f"{path}: [keymap] key 'filter' must be a string of keys; ignored",
    )


async def test_remapped_keys_work_and_bad_ones_are_reported(sim, clock, tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    loaded = load_settings(env={}, path=path)
    base = sim_settings(sim)
    settings = base.__class__(
        **{
            **base.__dict__,
            "keymap": loaded.keymap,
            "config_file": loaded.config_file,
            "warnings": loaded.warnings,
        }
    )
    ids = [sim.create_request("sms", [f"+97150000000{i}"], [Step(0, "sent")]) for i in range(3)]
    app = make_app(
        settings, ids=[Target(i) for i in ids], clock=clock, poll_config=PollConfig(workers=2)
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await idle(pilot, app)
        table = app.screen.query_one(WatchlistTable)
        assert table.cursor == 0
        await pilot.press("n")
        assert table.cursor == 1
        await pilot.press("o")
        assert app.watchlist.sort is SortKey.STATUS
        await pilot.press("s")  # the old key no longer sorts
        assert app.watchlist.sort is SortKey.STATUS
        problems = [line for line in said(app) if "[keymap]" in line]
        assert any(f"{path}: [keymap] key 'teleport': no such binding" in p for p in problems)
        assert any(f"{path}: [keymap] key 'quit': 'ctrl q q' is not" in p for p in problems)
        # A key two bindings would share: one would never run. The remapped one gives way.
        for binding, key, other in (
            ("archive_view", "k", "cursor_up"),
            ("refresh", "n", "cursor_down"),
        ):
            assert (
                f"{path}: [keymap] key {binding!r}: {key!r} is also the key of {other}; "
                "that binding keeps its keys"
            ) in problems
        # They stay in sight (the banner) after the event strip has moved on.
        for _ in range(4):
            await pilot.press("R")
        banner = " ".join(screen_text(app).split())
        assert "[keymap] key 'filter' must be a string of keys; ignored" in banner
        assert "[keymap] key 'teleport': no such binding" in banner
        assert "[keymap] key 'quit': 'ctrl q q' is not" in banner
        assert "… and 2 more settings problems" in banner
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        line = next(x for x in screen_text(app).splitlines() if "Cycle the sort" in x)
        assert line.split("Cycle the sort")[0].split()[-1] == "o"  # the user's key
    # The banner's "… and 2 more" are all on the terminal after the quit (J9): the keymap's,
    # which no command prints; config.toml's were printed before the screen came.
    assert "all of them are on the terminal when d7tui quits" in banner
    quit_lines = farewell_text(app.farewell)
    for problem in problems:
        # what tells one from another: the key and the start of the why (the strip cuts lines)
        which = problem.split("[keymap] key ", 1)[1].removesuffix("…")[:40]
        printed_at_start = any(which in w for w in settings.warnings)  # the 'filter' one
        assert (which in quit_lines) is not printed_at_start


async def test_hints_on_screen_name_the_keys_of_the_keymap(sim, clock):
    keymap = {
        "remove": "x",
        "undo": "ctrl+z,question_mark",
        "pause": "f8",
        "copy": "y",
        "help": "f1",
    }
    settings = sim_settings(sim, keymap=keymap)
    rid = sim.create_request("sms", ["+971500000001"], [Step(0, "sent")])
    app = make_app(settings, ids=[Target(rid)], clock=clock, poll_config=PollConfig(workers=2))
    async with app.run_test(size=(120, 40)) as pilot:
        await idle(pilot, app)
        await pilot.press("enter")
        await pilot.pause()
        assert "(esc: back, y: copy number)" in screen_text(app)  # the detail's head
        await pilot.press("escape", "x")
        assert said(app)[-1].endswith("— ctrl+z brings it back.")
        await pilot.press("ctrl+z")
        assert len(app.watchlist) == 1
        await pilot.press("f8")
        await pilot.pause()
        assert "⏸ paused (f8 resumes)" in screen_text(app)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        line = next(x for x in screen_text(app).splitlines() if "Bring back the request" in x)
        assert line.split("Bring back")[0].split()[-2:] == ["ctrl+z", "?"]


def _readme() -> str:
    return (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def test_the_readmes_keys_are_the_monitors_keys():
    from d7tui.ui.bindings import MONITOR_KEYS

    readme = _readme()
    table = readme[readme.index("| key | what it does |") :].split("\n\n", 1)[0]
    listed = {
        k for row in table.splitlines()[2:] for k in re.findall(r"`([^`]+)`", row.split("|")[1])
    }
    labels = {key.label for key in MONITOR_KEYS}
    moving = {"↑", "↓", "k", "j", "pgup", "pgdn", "home", "end", "g", "G", "tab"}
    assert labels <= listed, labels - listed  # every key is in the README's table
    assert listed <= labels | moving, listed - labels - moving  # and the table has no other
    names_text = readme[readme.index("**Keys of your own.**") : readme.index("Give one new keys")]
    names = set(re.findall(r"`([a-z_]+)`", names_text))
    actions = {key.action for key in MONITOR_KEYS}
    lines = {"cursor_up", "cursor_down", "page_up", "page_down", "first", "last"}
    assert names == actions | lines, names ^ (actions | lines)


async def test_the_footer_and_help_follow_the_keymap_from_the_first_frame(sim, clock, tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(
        '[keymap]\nquit = "ctrl+c"\ncursor_down = "down,n"\nfirst = "home,0"\n'
        'cursor_up = "up,k,!!!,ctrl+"\n'
    )
    loaded = load_settings(env={}, path=path)
    base = sim_settings(sim)
    settings = base.__class__(
        **{**base.__dict__, "keymap": loaded.keymap, "config_file": loaded.config_file}
    )
    app = make_app(settings, clock=clock, poll_config=PollConfig(workers=2))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        footer = screen_text(app).splitlines()[-1]
        assert "^c Quit" in footer and "q Quit" not in footer  # never the default, not once
        problems = [line for line in said(app) if "[keymap]" in line]
        assert any("'cursor_up'" in p and "not keys: '!!!', 'ctrl+'" in p for p in problems)
        await pilot.press("question_mark")
        first = next(x for x in screen_text(app).splitlines() if "Move through the list" in x)
        assert "↓ n" in first and "j" not in first.split("Move")[0]  # the user's keys
        assert "home 0 /" in first


async def test_the_demo_names_what_is_wrong_in_the_users_config_too(tmp_path: Path):
    # The demo reads the user's config.toml (the keymap, the look), so its problems are said on
    # the screen too, not only on standard error under it (L4).
    path = tmp_path / "config.toml"
    path.write_text('[keymap]\nmask = 5\nsort = "o"\n')
    app = make_app(load_settings(env={}, path=path), demo=True, bell=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await idle(pilot, app)
        banner = " ".join(screen_text(app).split())
        assert "[keymap] key 'mask' must be a string of keys; ignored" in banner
        await pilot.press("o")
        assert app.watchlist.sort is SortKey.STATUS


async def test_at_80x24_typos_and_refused_credentials_leave_the_monitor_in_sight(sim, clock):
    # L8: four keymap typos (each listed every binding name) and two refused credentials took
    # every row but the footer; the second credential was not on screen at all.
    typos = {"foo": "x", "bar": "y", "baz": "z", "srot": "w"}
    settings = sim_settings(sim, token="wrong-token", infobip_key=Secret("wrong-key"), keymap=typos)
    ids = [sim.create_request("sms", [f"+97150000001{i}"], [Step(0, "sent")]) for i in range(6)]
    app = make_app(settings, ids=[Target(i) for i in ids], clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await idle(pilot, app)
        await until(pilot, lambda: "Polling of" in " ".join(screen_text(app).split()))
        screen = " ".join(screen_text(app).split())
        # Each typo is one line (not the thirty names); the banner shows the stops first.
        assert any("key 'srot': no such binding (did you mean 'sort'?" in p for p in said(app))
        assert "Polling of sms, whatsapp and viber is stopped" in screen
        assert ids[0][:8] in screen  # the list is still there ...
        assert "watched" in screen  # ... and the status line


def test_keys_a_terminal_sends_as_other_keys_and_empty_values_are_named(tmp_path: Path):
    # L4: ctrl+m arrives as enter and ctrl+i as tab: bound, they could never run.
    path = tmp_path / "config.toml"
    path.write_text('[keymap]\nsort = "ctrl+m"\nproblems = "ctrl+i,x"\nfilter = " "\n')
    settings = load_settings(env={}, path=path)
    assert settings.warnings == (f"{path}: [keymap] key 'filter' is empty; ignored",)
    keymap, problems = resolve_keymap(settings.keymap, str(path))
    assert keymap == {}
    assert [p.split("[keymap] key ")[1].split(":")[0] for p in problems] == ["'sort'", "'problems'"]
    assert all("reach d7tui as enter, tab, backspace" in p for p in problems)
