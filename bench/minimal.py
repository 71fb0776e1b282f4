"""Two minimal Textual apps, the yardsticks `bench/monitor.py` measures beside d7tui in the same
run, with the same ids:

    table   a DataTable of the ids, nothing else: how fast a highlight can move at all;
    detail  the same table and a one-line Static under it showing the highlighted id, updated on
            every move (`Static.update`, the naive way: it asks for a layout).

    python bench/minimal.py table|detail IDS_FILE

The highlighted row's background is magenta (xterm 201), so that a capture of the screen with
its escapes tells where the cursor is.
"""

from __future__ import annotations

import sys
from pathlib import Path

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Static

CSS = """
DataTable { height: 1fr; }
DataTable > .datatable--cursor { background: #ff00ff; }
#detail { height: 1; }
"""


class Minimal(App[None]):
    CSS = CSS

    def __init__(self, ids: list[str], detail: bool) -> None:
        super().__init__()
        self.ids = ids
        self.with_detail = detail

    def compose(self) -> ComposeResult:
        yield DataTable(cursor_type="row")
        if self.with_detail:
            yield Static("", id="detail", markup=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Request", "Channel", "Status")
        table.add_rows((rid, "sms", "sent") for rid in self.ids)
        table.focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.with_detail:
            self.query_one("#detail", Static).update(self.ids[event.cursor_row])


def main() -> None:
    kind, ids_file = sys.argv[1], sys.argv[2]
    ids = Path(ids_file).read_text().split()
    Minimal(ids, detail=kind == "detail").run()


if __name__ == "__main__":
    main()
