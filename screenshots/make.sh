#!/usr/bin/env bash
# Reproduce the PNGs in screenshots/ from the real binary: run `recert demo` in a tmux pane of a
# fixed size, drive it with keys, capture the pane with its colours, turn that into HTML
# (ansi2html.py) and let headless Chromium render it.
#
#   bash screenshots/make.sh            # needs tmux and chromium (apt-get install tmux chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v tmux >/dev/null || { echo "needs tmux: apt-get install tmux" >&2; exit 1; }
CHROME=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROME" ] || { echo "needs chromium: apt-get install chromium" >&2; exit 1; }
cargo build --release --quiet
BIN=$PWD/target/release/recert
OUT=$PWD/screenshots
WORK=$(mktemp -d)
SESSION=recert-shots-$$
# Our own tmux server: never the user's (and none of their tmux configuration).
tmx() { tmux -L "$SESSION" -f /dev/null "$@"; }
COLS=120 ROWS=40
trap 'tmx kill-server 2>/dev/null || true; rm -rf "$WORK"' EXIT

tmx new-session -d -s "$SESSION" -x $COLS -y $ROWS \
  "env TERM=xterm-256color COLORTERM=truecolor RECERT_REVIEWER=dana.reviewer@example.com $BIN demo --size medium --seed 7 --data-dir $WORK/data 2>$WORK/demo.err"

wait_for() { # text, then give the screen a moment to settle
  for _ in $(seq 1 300); do
    if tmx capture-pane -t "$SESSION" -p | grep -qF -- "$1"; then return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for: $1" >&2; tmx capture-pane -t "$SESSION" -p >&2; cat "$WORK/demo.err" >&2; exit 1
}

shot() { # name
  tmx capture-pane -t "$SESSION" -e -N -p > "$WORK/$1.ansi"
  python3 "$OUT/ansi2html.py" $COLS $ROWS < "$WORK/$1.ansi" > "$WORK/$1.html"
  "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$WORK/chrome" --hide-scrollbars --window-size=1102,768 \
    --screenshot="$OUT/$1.png" "file://$WORK/$1.html" 2>/dev/null
  echo "wrote screenshots/$1.png"
}

wait_gone() { # text: wait until the screen no longer shows it
  for _ in $(seq 1 300); do
    if ! tmx capture-pane -t "$SESSION" -p | grep -qF -- "$1"; then return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for '$1' to go" >&2; exit 1
}

key() { tmx send-keys -t "$SESSION" "$@"; }
typed() { tmx send-keys -t "$SESSION" -l "$1"; }

wait_for "CRIT"
wait_gone "loading the rest" # the stored digest shows first; marks wait for the whole
key j j j
wait_for "4/"
shot findings
key 1
wait_for "Findings by rule"
shot dash
key 4 /
typed "owner:none provider:openai age>1y"
wait_for "/owner:none provider:openai age>1y "
shot filter
key Enter Space Space
wait_for "2 marked"
key r
wait_for "Justification (required)"
typed "leaked in CI logs, owner confirmed"
shot decide
key Enter
wait_for "recorded"
key 6
wait_for "Decisions 2"
shot decisions
key 3
wait_for "PERSON"
shot people
key '?'
wait_for "closes"
shot help
key Escape q

# A campaign on the demo's data, and the console on the largest manager's queue.
sleep 1
R="$BIN --data-dir $WORK/data"
$R campaign new --name 2026-Q4 --due +30d --route manager --fallback group:ai-admins >/dev/null
REVIEWER=$($R campaign status 2026-Q4 --format json | python3 -c '
import json, sys
q = json.load(sys.stdin)["queues"]
print(max((r for r in q if r != "group:ai-admins"), key=lambda r: q[r]["items"]))')
tmx kill-session -t "$SESSION" 2>/dev/null || true
tmx new-session -d -s "$SESSION" -x $COLS -y $ROWS \
  "env TERM=xterm-256color COLORTERM=truecolor $R review --campaign 2026-Q4 --as $REVIEWER 2>$WORK/demo.err"
wait_for "holder"
key Space
wait_for "1 marked"
key j Space
wait_for "2 marked"
key c
wait_for "Justification"
typed "reviewed with the project lead"
key Enter
wait_for "2 staged"
key j j
shot queue
key q
