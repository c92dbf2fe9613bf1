"""Actions: each action's verdict (READY, BLOCKED and why, RUNNING) and its guards' facts."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group
from rich.text import Text
from textual.reactive import reactive

from cockpit.rules.verdicts import GuardFact, GuardResult
from cockpit.session.view import ActionRow
from widgets.formatting import seconds_text
from widgets.panel import DetailLine, PanelRow, RowDetail, ScrollPanel

READY_WORD = "READY"
BLOCKED_WORD = "BLOCKED"
RUNNING_WORD = "RUNNING…"
READ_ONLY_WORD = "READ-ONLY"
ONE_WAY_WORD = "ONE-WAY"
PASS_MARK = "✓"
BLOCK_MARK = "✗"
RUNNING_MARK = "…"
VERDICT_STYLES = {
    READY_WORD: "bold green",
    BLOCKED_WORD: "bold red",
    RUNNING_WORD: "bold yellow",
    READ_ONLY_WORD: "bold magenta",
}
ONE_WAY_STYLE = "bold white on red"
GUARD_INDENT = "    "
FACT_SEPARATOR = " · "
FACTS_SEPARATOR = "; "
BAR_GAP = "  "
BAR_WIDTH = 80


def fact_text(fact: GuardFact) -> str:
    """'byte lag 0 B · 1.2 s ago': the value a guard saw and how old it was then."""
    shown = f"{fact.label} {fact.value}".strip()
    if fact.age_seconds is None:
        return shown
    return f"{shown}{FACT_SEPARATOR}{seconds_text(fact.age_seconds)} ago"


def verdict_word(row: ActionRow, read_only: bool) -> str:
    """The action's state in one word: RUNNING…, READ-ONLY, BLOCKED or READY."""
    if row.running:
        return RUNNING_WORD
    if read_only:
        return READ_ONLY_WORD
    return BLOCKED_WORD if row.blocked else READY_WORD


def verdict_line(row: ActionRow, title_width: int, read_only: bool) -> Text:
    """'[P] Promote replica  ONE-WAY  BLOCKED: byte lag 4.0 MiB > 0', cut at the panel's edge."""
    word = verdict_word(row, read_only)
    line = Text.assemble(
        (f"[{row.key_label}] ", "bold"),
        (row.title.ljust(title_width), "bold"),
        "  ",
        no_wrap=True,
        overflow="ellipsis",
    )
    if row.one_way:
        line.append(ONE_WAY_WORD, ONE_WAY_STYLE)
        line.append("  ")
    line.append(word, VERDICT_STYLES[word])
    if word == BLOCKED_WORD:
        line.append(f": {row.blocked[0].reason}", "red")
    return line


def guard_line(guard: GuardResult) -> Text:
    """'    ✓ Replica caught up: byte lag 0 B · 1.2 s ago' on one line, cut at the edge."""
    mark, style = (PASS_MARK, "green") if guard.passed else (BLOCK_MARK, "bold red")
    facts = FACTS_SEPARATOR.join(fact_text(fact) for fact in guard.facts)
    return Text.assemble(
        GUARD_INDENT,
        (mark, style),
        " ",
        guard.title,
        (f": {facts}" if facts else "", "dim"),
        no_wrap=True,
        overflow="ellipsis",
    )


def passed_summary_line(passed_count: int) -> Text:
    """'    ✓ 3 guards pass': the passing guards folded when the panel is short."""
    noun = "guard passes" if passed_count == 1 else "guards pass"
    return Text.assemble(GUARD_INDENT, (PASS_MARK, "green"), f" {passed_count} {noun}", style="dim")


def guard_lines(row: ActionRow, fold_passed: bool) -> list[Text]:
    """Every guard of the action, or (folded) only the blocking ones and a count of the rest."""
    if not fold_passed:
        return [guard_line(guard) for guard in row.guards]
    passed_count = len(row.guards) - len(row.blocked)
    lines = [guard_line(guard) for guard in row.blocked]
    if passed_count:
        lines.append(passed_summary_line(passed_count))
    return lines


def header_lines(read_only_reason: str | None, auto_abort_line: str) -> list[Text]:
    """The read-only reason and the auto-abort state, above the actions when set."""
    lines: list[Text] = []
    if read_only_reason:
        lines.append(
            Text(read_only_reason, style="bold magenta", no_wrap=True, overflow="ellipsis")
        )
    if auto_abort_line:
        lines.append(Text(auto_abort_line, style="italic", no_wrap=True, overflow="ellipsis"))
    return lines


def action_lines(row: ActionRow, title_width: int, read_only: bool, detail: int) -> list[Text]:
    """One action at a level of detail: 2 every guard, 1 passing guards folded, 0 verdict only."""
    lines = [verdict_line(row, title_width, read_only)]
    if detail > 0:
        lines.extend(guard_lines(row, fold_passed=detail == 1))
    return lines


def panel_rows(
    rows: Sequence[ActionRow],
    read_only_reason: str | None,
    auto_abort_line: str,
    height: int | None,
) -> list[PanelRow]:
    """The most detailed rendering that fits `height` lines (verdicts only scroll when not)."""
    header = [PanelRow(line) for line in header_lines(read_only_reason, auto_abort_line)]
    read_only = read_only_reason is not None
    title_width = max((len(row.title) for row in rows), default=0)
    for detail in (2, 1, 0):
        drawn = [action_lines(row, title_width, read_only, detail) for row in rows]
        if detail == 0 or height is None or len(header) + sum(map(len, drawn)) <= height:
            break
    return header + [
        PanelRow(
            lines[0] if len(lines) == 1 else Group(*lines),
            action_detail(row, read_only),
            row.key_label,
        )
        for row, lines in zip(rows, drawn, strict=True)
    ]


def action_detail(row: ActionRow, read_only: bool) -> RowDetail:
    """The action's verdict and every guard with its whole reason and the facts it saw."""
    lines = [DetailLine("verdict", verdict_word(row, read_only))]
    if row.one_way:
        lines.append(DetailLine("", f"{ONE_WAY_WORD}: cannot be undone"))
    for guard in row.guards:
        mark = PASS_MARK if guard.passed else BLOCK_MARK
        lines.append(DetailLine("", f"{mark} {guard.title}"))
        if guard.reason is not None:
            lines.append(DetailLine("reason", guard.reason, 1))
        lines.extend(DetailLine("fact", fact_text(fact), 1) for fact in guard.facts)
    return RowDetail(f"[{row.key_label}] {row.title}", tuple(lines))


def bar_entry(row: ActionRow, read_only: bool, short: bool) -> Text:
    """'P PROMOTE ✗': key, short name (upper case for a one-way door) and a mark, styled."""
    name = row.short_title or row.title
    name = name.upper() if row.one_way else name
    label = row.key_label if short else f"{row.key_label} {name}"
    if row.running:
        return Text(f"{label} {RUNNING_MARK}", style="bold yellow")
    if row.ready and not read_only:
        return Text(f"{label} {PASS_MARK}", style="bold")
    return Text(f"{label} {BLOCK_MARK}", style="dim")


def action_bar_text(
    rows: Sequence[ActionRow], *, read_only: bool = False, width: int = BAR_WIDTH
) -> Text:
    """'m maint-on ✓  M maint-off ✗  P PROMOTE ✗ …' in `width` columns; keys only if too long."""
    prefix = Text(f"{READ_ONLY_WORD}: ", style="bold magenta") if read_only else Text()
    for short in (False, True):
        bar = prefix + Text(BAR_GAP).join(bar_entry(row, read_only, short) for row in rows)
        if bar.cell_len <= width:
            return bar
    bar.truncate(width, overflow="ellipsis")
    return bar


class ActionsPanel(ScrollPanel):
    """Every action's verdict with its guards and their facts; it draws only what it is given.

    When the panel is short, passing guards fold into a count and then only verdicts remain,
    so every action's READY or BLOCKED line stays in view as long as there is room for it.
    """

    DEFAULT_CSS = """
    ActionsPanel.-read-only { border: dashed $secondary; }
    """

    rows: reactive[tuple[ActionRow, ...]] = reactive(())
    """One row per action, in key order, with its latest guard results."""
    read_only_reason: reactive[str | None] = reactive(None)
    """Why no action can run in this session (READ-ONLY, replay), or None."""
    auto_abort_line: reactive[str] = reactive("")
    """The auto-abort watch in one line ('' hides it)."""

    def on_mount(self) -> None:
        self._refresh_frame()

    def placeholder(self) -> Text | None:
        if not self.rows and not self.read_only_reason:
            return Text("waiting for the first guard check…", style="dim italic")
        return None

    def panel_rows(self) -> Sequence[PanelRow]:
        height = self.size.height or None
        return panel_rows(self.rows, self.read_only_reason, self.auto_abort_line, height)

    def ready_count(self) -> int:
        if self.read_only_reason is not None:
            return 0
        return sum(1 for row in self.rows if row.ready)

    def _refresh_frame(self) -> None:
        """Title 'ACTIONS · 2 ready' ('ACTIONS · READ-ONLY' when nothing can run)."""
        if self.read_only_reason is not None:
            summary = READ_ONLY_WORD
        elif not self.rows:
            summary = "…"
        else:
            summary = f"{self.ready_count()} ready"
        running = [row.title for row in self.rows if row.running]
        suffix = f" · RUNNING {running[0]}" if running else ""
        self.border_title = f"ACTIONS · {summary}{suffix}"
        self.set_class(self.read_only_reason is not None, "-read-only")

    def watch_rows(self) -> None:
        self._refresh_frame()

    def watch_read_only_reason(self) -> None:
        self._refresh_frame()
