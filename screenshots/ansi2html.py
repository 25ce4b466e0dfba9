#!/usr/bin/env python3
"""Turn `tmux capture-pane -e -p` output (text with SGR colour codes) into a standalone HTML
page that looks like the terminal: one <pre>, one <span> per run of equal style. Stdlib only.

Usage: ansi2html.py COLS ROWS < capture.txt > page.html
"""
import html
import re
import sys

BASE16 = [
    "#1c1c1c", "#cd3131", "#0dbc79", "#e5e510", "#2472c8", "#bc3fbc", "#11a8cd", "#e5e5e5",
    "#666666", "#f14c4c", "#23d18b", "#f5f543", "#3b8eea", "#d670d6", "#29b8db", "#ffffff",
]
FG, BG = "#d4d4d4", "#1e1e1e"


def xterm256(n):
    if n < 16:
        return BASE16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return "#%02x%02x%02x" % (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    g = 8 + (n - 232) * 10
    return "#%02x%02x%02x" % (g, g, g)


def apply(state, params):
    codes = [int(p) if p else 0 for p in params.split(";")] if params else [0]
    i = 0
    while i < len(codes):
        c = codes[i]
        if c == 0:
            state.update(fg=None, bg=None, bold=False, rev=False, ul=False)
        elif c == 1:
            state["bold"] = True
        elif c == 4:
            state["ul"] = True
        elif c == 7:
            state["rev"] = True
        elif c in (22,):
            state["bold"] = False
        elif c == 24:
            state["ul"] = False
        elif c == 27:
            state["rev"] = False
        elif 30 <= c <= 37:
            state["fg"] = BASE16[c - 30]
        elif 90 <= c <= 97:
            state["fg"] = BASE16[c - 90 + 8]
        elif 40 <= c <= 47:
            state["bg"] = BASE16[c - 40]
        elif 100 <= c <= 107:
            state["bg"] = BASE16[c - 100 + 8]
        elif c == 39:
            state["fg"] = None
        elif c == 49:
            state["bg"] = None
        elif c in (38, 48) and i + 1 < len(codes):
            key = "fg" if c == 38 else "bg"
            if codes[i + 1] == 5 and i + 2 < len(codes):
                state[key] = xterm256(codes[i + 2])
                i += 2
            elif codes[i + 1] == 2 and i + 4 < len(codes):
                state[key] = "#%02x%02x%02x" % tuple(codes[i + 2:i + 5])
                i += 4
        i += 1


def style(state):
    fg, bg = state["fg"] or FG, state["bg"] or BG
    if state["rev"]:
        fg, bg = bg, fg
    css = "color:%s;background:%s" % (fg, bg)
    if state["bold"]:
        css += ";font-weight:bold"
    if state["ul"]:
        css += ";text-decoration:underline"
    return css


def main():
    cols, rows = int(sys.argv[1]), int(sys.argv[2])
    text = sys.stdin.read()
    state = dict(fg=None, bg=None, bold=False, rev=False, ul=False)
    out = []
    for line in text.split("\n")[:rows]:
        pos = 0
        for m in re.finditer(r"\x1b\[([0-9;]*)m", line):
            chunk = line[pos:m.start()]
            if chunk:
                out.append('<span style="%s">%s</span>' % (style(state), html.escape(chunk)))
            apply(state, m.group(1))
            pos = m.end()
        chunk = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", line[pos:])
        if chunk:
            out.append('<span style="%s">%s</span>' % (style(state), html.escape(chunk)))
        out.append("\n")
    print("""<!doctype html><html><head><meta charset="utf-8"><style>
html,body{margin:0;background:%s}
pre{margin:0;padding:8px;font:15px/1.25 'DejaVu Sans Mono',monospace;color:%s;width:%dch}
</style></head><body><pre>%s</pre></body></html>""" % (BG, FG, cols, "".join(out)))


if __name__ == "__main__":
    main()
