"""The actions panel and the action bar, drawn at 80x24 (a 76x16 panel) and at 160x48."""

from __future__ import annotations

from dataclasses import replace

import pytest
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widget import Widget

from cockpit.actions.model import ActionId
from cockpit.actions.registry import action
from cockpit.rules.verdicts import GuardFact, GuardResult
from cockpit.session.view import ActionRow
from widgets.actions_panel import ActionsPanel, action_bar_text

NARROW = (80, 24)
WIDE = (160, 48)

LAG_OK = GuardResult(
    "replication-caught-up",
    "Replica caught up",
    None,
    (GuardFact("byte lag", "0 B", "replication:primary", 1.2),),
)
LAG_BLOCKED = GuardResult(
    "replication-caught-up",
    "Replica caught up",
    "byte lag 4.0 MiB > 0 B",
    (GuardFact("byte lag", "4.0 MiB", "replication:primary", 2.0),),
)
MAINTENANCE_OFF = GuardResult(
    "maintenance-on",
    "Maintenance on",
    "maintenance is off",
    (GuardFact("maintenance", "off", "maintenance:old", 0.8),),
)
TARGETS_OK = GuardResult(
    "new-targets-healthy",
    "All new targets healthy",
    None,
    (GuardFact("healthy", "3/3", "targets:new", 0.4),),
)
ERRORS_OK = GuardResult(
    "new-5xx-low",
    "5xx on new side < 1 %",
    None,
    (GuardFact("new 5xx", "0.2 %", "errors:new", 3.5),),
)
NOTHING_TO_UNDO = GuardResult("undoable-changes", "Something to roll back", "no change to undo")


def six_rows() -> tuple[ActionRow, ...]:
    """The cockpit's six actions mid-cutover: lag not drained, maintenance off."""
    rows = (
        ActionRow("m", "Maintenance on", False, (LAG_OK,)),
        ActionRow("M", "Maintenance off", False, (MAINTENANCE_OFF,)),
        ActionRow("P", "Promote replica", True, (LAG_BLOCKED, MAINTENANCE_OFF)),
        ActionRow("+", "Weight up", False, (TARGETS_OK, ERRORS_OK, LAG_OK)),
        ActionRow("-", "Weight down", False, (TARGETS_OK,)),
        ActionRow("R", "Rollback", False, (NOTHING_TO_UNDO,)),
    )
    return tuple(
        replace(row, short_title=action(action_id).short_title)
        for row, action_id in zip(rows, ActionId, strict=True)
    )


class Host(App[None]):
    """The panel at the size the cockpit gives it: 76x16 at 80x24, larger when there is room."""

    CSS = """
    ActionsPanel { width: 76; height: 16; }
    Screen.-wide ActionsPanel { width: 1fr; height: 1fr; }
    """

    def __init__(self, wide: bool = False) -> None:
        super().__init__()
        self.wide = wide

    def compose(self) -> ComposeResult:
        yield ActionsPanel(id="actions")

    def on_mount(self) -> None:
        self.screen.set_class(self.wide, "-wide")


def drawn(widget: Widget) -> list[str]:
    width, height = widget.region.size
    strips = widget.render_lines(Region(0, 0, width, height))
    return ["".join(segment.text for segment in strip) for strip in strips]


def content(widget: Widget) -> list[str]:
    """The lines inside the border and padding, trailing blank lines dropped."""
    inner = [line[2:-2].rstrip() for line in drawn(widget)[1:-1]]
    while inner and not inner[-1]:
        inner.pop()
    return inner


async def shown(
    rows: tuple[ActionRow, ...],
    size: tuple[int, int] = NARROW,
    read_only_reason: str | None = None,
    auto_abort_line: str = "",
) -> tuple[str, list[str]]:
    """The panel's border title and content lines after handing it these attributes."""
    app = Host(wide=size == WIDE)
    async with app.run_test(size=size) as pilot:
        panel = app.query_one(ActionsPanel)
        panel.rows = rows
        panel.read_only_reason = read_only_reason
        panel.auto_abort_line = auto_abort_line
        await pilot.pause()
        return str(panel.border_title), content(panel)


def line_of(lines: list[str], key: str) -> str:
    return next(line for line in lines if line.startswith(f"[{key}] "))


async def test_waits_for_its_first_guard_check() -> None:
    title, lines = await shown(())
    assert title == "ACTIONS · …"
    assert lines == ["waiting for the first guard check…"]


async def test_each_action_says_ready_or_blocked_with_its_first_reason() -> None:
    title, lines = await shown(six_rows(), WIDE)
    assert title == "ACTIONS · 3 ready"
    assert line_of(lines, "m").endswith("READY")
    assert line_of(lines, "M").endswith("BLOCKED: maintenance is off")
    assert line_of(lines, "P").endswith("BLOCKED: byte lag 4.0 MiB > 0 B")
    assert line_of(lines, "R").endswith("BLOCKED: no change to undo")


async def test_promotion_is_marked_one_way() -> None:
    _, lines = await shown(six_rows(), WIDE)
    assert "ONE-WAY" in line_of(lines, "P")
    assert not any("ONE-WAY" in line_of(lines, key) for key in "mM+-R")


async def test_guards_are_listed_under_their_action_with_facts_and_ages() -> None:
    _, lines = await shown(six_rows(), WIDE)
    promote = lines.index(line_of(lines, "P"))
    assert lines[promote + 1].strip() == "✗ Replica caught up: byte lag 4.0 MiB · 2.0 s ago"
    assert lines[promote + 2].strip() == "✗ Maintenance on: maintenance off · 800 ms ago"
    assert "✓ Replica caught up: byte lag 0 B · 1.2 s ago" in [line.strip() for line in lines]


async def test_a_running_action_says_so() -> None:
    rows = list(six_rows())
    rows[3] = replace(rows[3], running=True)
    title, lines = await shown(tuple(rows), WIDE)
    assert line_of(lines, "+").endswith("RUNNING…")
    assert title == "ACTIONS · 2 ready · RUNNING Weight up"


async def test_every_verdict_fits_a_76x16_panel() -> None:
    title, lines = await shown(six_rows(), NARROW, auto_abort_line="auto-abort: armed")
    assert title == "ACTIONS · 3 ready"
    assert len(lines) <= 14
    for key in "mMP+-R":
        assert line_of(lines, key)
    assert line_of(lines, "P").startswith("[P] Promote replica  ONE-WAY  BLOCKED: byte lag")
    assert "✗ Replica caught up: byte lag 4.0 MiB · 2.0 s ago" in [line.strip() for line in lines]


async def test_a_very_short_panel_keeps_only_the_verdicts() -> None:
    many_guards = tuple(replace(TARGETS_OK, title=f"Target group {n} healthy") for n in range(6))
    rows = tuple(replace(row, guards=row.guards + many_guards) for row in six_rows())
    _, lines = await shown(rows, NARROW)
    assert [line[1] for line in lines] == list("mMP+-R")


async def test_long_reasons_are_cut_not_wrapped() -> None:
    long_reason = "replication byte lag is 4.0 MiB and still growing at 120 KiB/s " * 3
    rows = (ActionRow("P", "Promote replica", True, (replace(LAG_BLOCKED, reason=long_reason),)),)
    _, lines = await shown(rows, NARROW)
    assert lines[0].endswith("…")
    assert lines[1].startswith("    ✗ Replica caught up")


async def test_read_only_says_why_first_and_nothing_is_ready() -> None:
    reason = "READ-ONLY session: no action can run"
    title, lines = await shown(six_rows(), NARROW, read_only_reason=reason)
    assert title == "ACTIONS · READ-ONLY"
    assert lines[0] == reason
    assert not any(line.endswith("READY") for line in lines)


async def test_the_auto_abort_line_shows_only_when_given() -> None:
    armed = "auto-abort: armed, new 5xx 0.4 % < 5 %"
    _, with_line = await shown(six_rows(), WIDE, auto_abort_line=armed)
    _, without = await shown(six_rows(), WIDE)
    assert with_line[0] == armed
    assert not any("auto-abort" in line for line in without)


# --- the action bar -------------------------------------------------------------------------


def test_the_action_bar_fits_80_columns_for_six_actions() -> None:
    bar = action_bar_text(six_rows())
    assert bar.cell_len <= 80
    assert bar.plain == ("m maint-on ✓  M maint-off ✗  P PROMOTE ✗  + up ✓  - down ✓  R rollback ✗")


def test_the_action_bar_styles_ready_bold_and_blocked_dim() -> None:
    bar = action_bar_text(six_rows())
    styles = {bar.plain[span.start : span.end]: str(span.style) for span in bar.spans}
    assert styles["m maint-on ✓"] == "bold"
    assert styles["P PROMOTE ✗"] == "dim"


def test_the_action_bar_shows_a_running_action() -> None:
    rows = list(six_rows())
    rows[3] = replace(rows[3], running=True)
    assert "+ up …" in action_bar_text(rows).plain


def test_the_action_bar_falls_back_to_keys_when_titles_are_long() -> None:
    rows = tuple(replace(row, short_title="") for row in six_rows())
    bar = action_bar_text(rows)
    assert bar.cell_len <= 80
    assert bar.plain == "m ✓  M ✗  P ✗  + ✓  - ✓  R ✗"


def test_the_action_bar_in_read_only_marks_nothing_ready() -> None:
    bar = action_bar_text(six_rows(), read_only=True)
    assert bar.plain.startswith("READ-ONLY: ")
    assert "✓" not in bar.plain
    assert bar.cell_len <= 80


@pytest.mark.parametrize("width", [40, 20])
def test_the_action_bar_never_exceeds_its_width(width: int) -> None:
    assert action_bar_text(six_rows(), width=width).cell_len <= width
