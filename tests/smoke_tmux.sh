#!/usr/bin/env bash
# Smoke test of the real app in a real terminal: start `d7tui --demo` in tmux, wait for rows,
# wait for a status to change (a transition "old → new" on screen), press q, expect status 0.
# Then once more, and take the terminal away (as an SSH drop does): the app must exit, not spin.
#
#   tests/smoke_tmux.sh [path/to/d7tui]      (default: .venv/bin/d7tui)
set -euo pipefail

bin=${1:-.venv/bin/d7tui}
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
if ! command -v tmux >/dev/null 2>&1; then
  echo "smoke: tmux is not installed" >&2
  exit 1
fi
if [ ! -x "$bin" ]; then
  echo "smoke: $bin is not executable" >&2
  exit 1
fi

work=$(mktemp -d)
session="d7tui-smoke-$$"
# A private tmux server: never touches the user's sessions.
tmux_() { tmux -S "$work/tmux.sock" "$@"; }
cleanup() {
  tmux_ kill-server >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

screen() { tmux_ capture-pane -p -t "$session" 2>/dev/null || true; }

# wait_for SECONDS DESCRIPTION COMMAND...: poll every 0.25 s until COMMAND succeeds.
wait_for() {
  local seconds=$1 what=$2
  shift 2
  local tries=$((seconds * 4))
  for ((i = 0; i < tries; i++)); do
    if "$@"; then
      return 0
    fi
    sleep 0.25
  done
  echo "smoke: timed out after ${seconds}s waiting for $what; the screen was:" >&2
  screen >&2
  return 1
}

has_rows() {
  local s
  s=$(screen)
  grep -q "sms" <<<"$s" && grep -q "whatsapp" <<<"$s" && grep -q "infobip" <<<"$s"
}
# A transition shows as "old → new" in a toast or in the timeline; first-seen statuses do not.
has_transition() { screen | grep -Eq "[a-z_]+ → [a-z_]+"; }
exited() { [ -s "$work/rc" ]; }

tmux_ new-session -d -s "$session" -x 120 -y 40 \
  "TERM=xterm-256color '$bin' --demo; echo \$? >'$work/rc'; sleep 30"

wait_for 30 "rows of every channel" has_rows
echo "smoke: rows appeared"
wait_for 90 "a status change" has_transition
echo "smoke: a status changed: $(screen | grep -Eo '[a-z_]+ → [a-z_]+' | head -1)"

tmux_ send-keys -t "$session" q
wait_for 15 "the app to exit after q" exited
rc=$(cat "$work/rc")
if [ "$rc" != "0" ]; then
  echo "smoke: d7tui exited with status $rc after q; the screen was:" >&2
  screen >&2
  exit 1
fi
echo "smoke: q exited with status 0"

# The terminal goes away: d7tui is the pane's own process; killing the session hangs it up.
tmux_ new-session -d -s "$session-hup" -x 100 -y 30 "TERM=xterm-256color exec '$bin' --demo"
session="$session-hup"
wait_for 30 "rows (second run)" has_rows
pid=$(tmux_ list-panes -t "$session" -F '#{pane_pid}')
tmux_ kill-session -t "$session"
gone() { ! kill -0 "$pid" 2>/dev/null; }
wait_for 10 "d7tui (pid $pid) to exit once its terminal is gone" gone
echo "smoke: the app exited when its terminal went away"

# Once more with the add dialog open: its blinking cursor keeps writing to the terminal after it
# is gone, which used to leave the app blocked on Textual's output queue, alive and unkillable
# by SIGTERM.
tmux_ new-session -d -s "$session-dialog" -x 100 -y 30 "TERM=xterm-256color exec '$bin' --demo"
session="$session-dialog"
wait_for 30 "rows (third run)" has_rows
tmux_ send-keys -t "$session" a
has_dialog() { screen | grep -q "Watch request ids"; }
wait_for 10 "the add dialog" has_dialog
pid=$(tmux_ list-panes -t "$session" -F '#{pane_pid}')
tmux_ kill-session -t "$session"
wait_for 10 "d7tui (pid $pid) to exit once its terminal is gone, a dialog open" gone
echo "smoke: the app exited when its terminal went away with a dialog open"
