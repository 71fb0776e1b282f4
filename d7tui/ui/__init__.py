"""The Textual monitor."""

import os

# Textual paints at most TEXTUAL_FPS frames a second (read once, when Textual is first imported:
# textual.constants.MAX_FPS, 60 by default). A key that comes within a frame of the last paint
# (a poll's news drawn a moment before) waits for the next one: up to 17 ms at 60, half at 120.
# Only as many frames as there are changes are painted, so an idle monitor paints no more. A
# TEXTUAL_FPS of the user's own is kept.
os.environ.setdefault("TEXTUAL_FPS", "120")
