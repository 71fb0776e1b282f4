"""d7tui: a terminal live-status monitor for D7 Networks and Infobip messages."""

__version__ = "0.1.0"
