"""The confirm dialog: the plan and the guard facts first, then a confirmation that fits the risk.

No letter confirms: ctrl+y (or a click on Confirm) does, and only once the screen has been on
screen for the settle time. A one-way door also takes its name typed exactly; a blocked action
takes a typed OVERRIDE and a reason. The runner enforces those words; this screen collects them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import ClassVar, TypeVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Button, Input, Label, Static

from cockpit.actions.confirmation import (
    OVERRIDE_WORD,
    Confirmation,
    name_problem,
    override_word_problem,
    reason_problem,
)
from cockpit.actions.model import Plan
from cockpit.deliberate_input import SETTLE_SECONDS, MonotonicClock, settle_reason
from cockpit.rules.verdicts import GuardFact, GuardResult
from widgets.formatting import seconds_text

ONE_WAY_BANNER = "ONE-WAY DOOR — cannot be undone"
DRY_RUN_BANNER = "DRY RUN — nothing will change; the plan is journaled"
SECOND_PERSON_BANNER = "TWO-PERSON RULE — a second operator must approve this plan before it runs"
OVERRIDE_INPUT_ID = "override-word"
REASON_INPUT_ID = "override-reason"
NAME_INPUT_ID = "confirm-word"
CANCEL_BUTTON_ID = "cancel"
CONFIRM_BUTTON_ID = "confirm"
SETTLE_HINT_SECONDS = 0.1


@dataclass(frozen=True)
class ConfirmRequest:
    """What the operator is asked to confirm: the plan, every guard, and the ones that block.

    confirm_verb: what typing a one-way door's name does, in the action's own word ("promote").
    """

    title: str
    plan: Plan
    guards: tuple[GuardResult, ...]
    blocked: tuple[GuardResult, ...]
    dry_run: bool = False
    confirm_verb: str = "confirm"
    second_person: bool = False

    @property
    def needs_override(self) -> bool:
        return bool(self.blocked)

    @property
    def needs_typing(self) -> bool:
        """True when ctrl+y alone is not enough: a one-way door or an override."""
        return self.needs_override or self.plan.confirm_word is not None


@dataclass(frozen=True)
class AnswerField:
    """One input of the typed confirmation: its id, its label, and what makes it valid."""

    input_id: str
    label: str
    placeholder: str
    problem: Callable[[str], str | None]


def answer_fields(request: ConfirmRequest) -> tuple[AnswerField, ...]:
    """The inputs this request needs, in the order they are filled in."""
    fields: list[AnswerField] = []
    if request.needs_override:
        override_label = f"type {OVERRIDE_WORD}:"
        reason_hint = "why running it anyway is safe"
        fields += [
            AnswerField(OVERRIDE_INPUT_ID, override_label, "in capitals", override_word_problem),
            AnswerField(REASON_INPUT_ID, "reason (journaled):", reason_hint, reason_problem),
        ]
    word = request.plan.confirm_word
    if word is not None:
        label = f"type {word} to {request.confirm_verb}:"
        check = partial(name_problem, word)
        fields.append(AnswerField(NAME_INPUT_ID, label, "case matters", check))
    return tuple(fields)


def confirmation_from(values: dict[str, str]) -> Confirmation:
    """The operator's words from the inputs' values (absent inputs are None)."""
    reason = values.get(REASON_INPUT_ID, "").strip()
    return Confirmation(
        typed_word=values.get(NAME_INPUT_ID),
        override_word=values.get(OVERRIDE_INPUT_ID),
        override_reason=reason or None,
    )


def banner_text(request: ConfirmRequest) -> Text:
    """The one-way and dry-run banners, one per line ('' when neither applies)."""
    lines: list[Text] = []
    if request.plan.one_way:
        lines.append(Text(f" {ONE_WAY_BANNER} ", style="bold white on red"))
    if request.dry_run:
        lines.append(Text(f" {DRY_RUN_BANNER} ", style="bold black on yellow"))
    if request.second_person:
        lines.append(Text(f" {SECOND_PERSON_BANNER} ", style="bold white on blue"))
    return Text("\n").join(lines)


def section_text(heading: str, items: Sequence[str], empty: str) -> Text:
    """'Heading' then one indented line per item, or the `empty` sentence."""
    text = Text(heading, style="bold underline")
    if not items:
        return text + Text(f"\n  {empty}", style="dim")
    for item in items:
        text.append(f"\n  {item}")
    return text


def changes_text(plan: Plan) -> Text:
    """'What changes' with 'resource: before → after' per change."""
    sentences = [change.sentence() for change in plan.changes]
    return section_text("What changes", sentences, "nothing: no resource is changed")


def calls_text(plan: Plan) -> Text:
    """The API calls and SQL the action will send, exactly as planned."""
    return section_text("API calls / SQL", plan.calls, "none")


def notes_text(plan: Plan) -> Text:
    return section_text("Notes", plan.notes, "none")


def fact_age_text(fact: GuardFact) -> str:
    """'byte lag: 0 B (1.2 s ago)': the value and its age when the guard looked at it."""
    age = "" if fact.age_seconds is None else f" ({seconds_text(fact.age_seconds)} ago)"
    return f"{fact.label}: {fact.value}{age}"


def guard_text(guard: GuardResult) -> Text:
    """'✓ PASS title' or '✗ BLOCKED title: reason', then its facts indented."""
    if guard.passed:
        text = Text.assemble(("✓ PASS ", "bold green"), guard.title)
    else:
        text = Text.assemble(("✗ BLOCKED ", "bold red"), guard.title, (f": {guard.reason}", "red"))
    for fact in guard.facts:
        text.append(f"\n    {fact_age_text(fact)}", style="dim")
    return text


def guards_text(guards: Sequence[GuardResult]) -> Text:
    """Every guard with its facts, as evaluated for this confirmation."""
    heading = Text("Guards (facts as checked)", style="bold underline")
    if not guards:
        return heading + Text("\n  this action has no guards", style="dim")
    return Text("\n").join([heading, *(guard_text(guard) for guard in guards)])


def blocked_text(blocked: Sequence[GuardResult]) -> Text:
    """The guards an override would run past, each with its reason, in red words."""
    heading = Text(
        f"BLOCKED by {len(blocked)} guard{'s' if len(blocked) != 1 else ''}: "
        "running anyway is an override, journaled with your reason",
        style="bold white on red",
    )
    reasons = [
        Text(f"  BLOCKED {guard.title}: {guard.reason}", style="bold red") for guard in blocked
    ]
    return Text("\n").join([heading, *reasons])


def keys_hint(request: ConfirmRequest, *, settled: bool) -> str:
    """The keys that answer this dialog, always visible at the bottom; a wait while settling."""
    verb = "journal the plan (dry run)" if request.dry_run else "run it"
    if request.second_person:
        verb = "ask a second operator"
    if not settled:
        return f"wait {SETTLE_SECONDS:g} s… then ctrl+y = {verb} · esc = cancel"
    answer = f"ctrl+y = {verb} · esc = cancel · pgup/pgdn = scroll"
    return f"enter = next field · {answer}" if request.needs_typing else answer


Answer = TypeVar("Answer")


class PlanDialog(ModalScreen[Answer]):
    """The plan and the guard facts above, typed answers docked below; answered exactly once.

    The answer area stays visible while a long plan scrolls (pgup/pgdn scroll it while the focus
    stays in the input being typed). Subclasses compose the answer area and say what answers.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("pageup", "scroll_plan(-1)", "Scroll up", show=False),
        Binding("pagedown", "scroll_plan(1)", "Scroll down", show=False),
    ]

    DEFAULT_CSS = """
    PlanDialog { align: center middle; }
    PlanDialog > #dialog {
        width: 100%;
        max-width: 120;
        height: 100%;
        border: heavy $warning;
        border-title-align: left;
        border-title-style: bold;
        background: $surface;
        padding: 0 1;
    }
    PlanDialog > #dialog.-danger { border: heavy $error; }
    PlanDialog #plan { height: 1fr; }
    PlanDialog #plan > Static { margin-bottom: 1; }
    PlanDialog #answer { dock: bottom; height: auto; }
    PlanDialog #answer > Horizontal { height: 1; }
    PlanDialog #answer Label { width: auto; margin-right: 1; text-style: bold; }
    PlanDialog #answer Input { width: 1fr; }
    PlanDialog #problem { color: $error; text-style: bold; }
    PlanDialog #problem.-ready { color: $success; }
    PlanDialog #keys { color: $text-muted; }
    """

    READY_WORDS = "typed correctly: ctrl+y runs it, esc cancels"
    """What the problem line says once every field is typed correctly."""

    def __init__(self, request: ConfirmRequest, fields: tuple[AnswerField, ...]) -> None:
        super().__init__()
        self.request = request
        self.fields = fields
        self.answered = False

    def plan_statics(self) -> ComposeResult:
        """The banners, the plan, any blocked guards, and every guard with its facts."""
        request = self.request
        banner = banner_text(request)
        if banner:
            yield Static(banner, id="banner", markup=False)
        yield Static(Text(request.plan.summary, style="bold"), id="summary")
        if request.needs_override:
            yield Static(blocked_text(request.blocked), id="blocked")
        yield Static(changes_text(request.plan), id="changes")
        yield Static(calls_text(request.plan), id="calls")
        if request.plan.notes:
            yield Static(notes_text(request.plan), id="notes")
        yield Static(guards_text(request.guards), id="guards")

    def field_rows(self) -> ComposeResult:
        """One line per field: its label, then its input."""
        for field in self.fields:
            with Horizontal():
                yield Label(field.label)
                yield Input(id=field.input_id, compact=True, placeholder=field.placeholder)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter moves to the next field, or says what is still wrong; it never answers."""
        event.stop()
        index = next(i for i, f in enumerate(self.fields) if f.input_id == event.input.id)
        problem = self.fields[index].problem(event.value)
        if problem is not None:
            self.show_problem(problem)
        elif index + 1 < len(self.fields):
            self.show_problem("")
            self.set_focus(self._field_input(index + 1))
        elif self._checked_values() is not None:
            self.show_problem(self.READY_WORDS, ready=True)

    def _checked_values(self) -> dict[str, str] | None:
        """Every field's value when all are right; else the first problem is shown and focused."""
        values = {field.input_id: self._value(field.input_id) for field in self.fields}
        for index, field in enumerate(self.fields):
            problem = field.problem(values[field.input_id])
            if problem is not None:
                self.show_problem(problem)
                self.set_focus(self._field_input(index))
                return None
        return values

    def answer(self, result: Answer) -> None:
        """Dismisses once: a second key pressed before the dialog closes does nothing."""
        if self.answered:
            return
        self.answered = True
        self.dismiss(result)

    def show_problem(self, problem: str, *, ready: bool = False) -> None:
        line = self.query_one("#problem", Static)
        line.set_class(ready, "-ready")
        line.update(problem)

    def _value(self, input_id: str) -> str:
        return self.query_one(f"#{input_id}", Input).value

    def _field_input(self, index: int) -> Input:
        return self.query_one(f"#{self.fields[index].input_id}", Input)

    def action_scroll_plan(self, pages: int) -> None:
        """Scrolls the plan a page while the focus stays in the input being typed."""
        plan = self.query_one("#plan", VerticalScroll)
        if pages < 0:
            plan.scroll_page_up(animate=False)
        else:
            plan.scroll_page_down(animate=False)


class ConfirmActionScreen(PlanDialog[Confirmation | None]):
    """Shows exactly what an action will do and what the guards saw; returns the operator's answer.

    Dismisses with a Confirmation when confirmed, None when cancelled. Focus starts on Cancel;
    the Confirm button takes only a mouse click, so no key but ctrl+y can confirm.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+y", "confirm", "Confirm"),
        Binding("escape", "cancel", "Cancel", show=False),
    ]

    DEFAULT_CSS = """
    ConfirmActionScreen #buttons { height: 1; }
    ConfirmActionScreen #buttons > Button { margin-right: 2; }
    """

    AUTO_FOCUS = f"#{CANCEL_BUTTON_ID}"

    class Shown(Message):
        """The dialog is on screen: from `shown_at` (monotonic seconds) its settle time runs."""

        def __init__(self, shown_at: float) -> None:
            super().__init__()
            self.shown_at = shown_at

    def __init__(self, request: ConfirmRequest, clock: MonotonicClock = time.monotonic) -> None:
        super().__init__(request, answer_fields(request))
        self.clock = clock
        self.shown_at: float | None = None
        self._settle_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        request = self.request
        with Vertical(id="dialog") as dialog:
            dialog.border_title = request.title
            dialog.set_class(request.plan.one_way or request.needs_override, "-danger")
            with Vertical(id="answer"):
                yield Static("", id="problem", markup=False)
                yield from self.field_rows()
                with Horizontal(id="buttons"):
                    yield Button("Cancel", id=CANCEL_BUTTON_ID, compact=True)
                    yield self._confirm_button()
                yield Static(keys_hint(request, settled=False), id="keys")
            with VerticalScroll(id="plan"):
                yield from self.plan_statics()

    def _confirm_button(self) -> Button:
        """Confirm answers a mouse click only: it takes no focus, so enter can never press it."""
        danger = self.request.plan.one_way or self.request.needs_override
        button = Button(
            "Confirm", "error" if danger else "primary", id=CONFIRM_BUTTON_ID, compact=True
        )
        button.can_focus = False
        return button

    def on_mount(self) -> None:
        self.set_focus(self.query_one(f"#{CANCEL_BUTTON_ID}", Button))
        self.call_after_refresh(self._on_screen)

    def _on_screen(self) -> None:
        """The dialog has been drawn: the settle time starts now (unless already answered)."""
        if self.answered:
            return
        self.shown_at = self.clock()
        self.post_message(self.Shown(self.shown_at))
        self._settle_timer = self.set_interval(SETTLE_HINT_SECONDS, self._show_when_settled)

    def _show_when_settled(self) -> None:
        """Once settled: the keys hint says what answers, and typing starts in the first field.

        Only the hint and the focus follow this timer; whether a key answers is decided from
        the clock when the key arrives.
        """
        if self.settle_problem() is not None:
            return
        if self._settle_timer is not None:
            self._settle_timer.stop()
        self.query_one("#keys", Static).update(keys_hint(self.request, settled=True))
        cancel = self.query_one(f"#{CANCEL_BUTTON_ID}", Button)
        if self.fields and self.focused in (None, cancel):
            self.set_focus(self._field_input(0))

    def settle_problem(self) -> str | None:
        """Why the dialog takes no answer yet (None: it has been on screen long enough)."""
        return settle_reason(self.clock(), self.shown_at)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == CONFIRM_BUTTON_ID:
            self.action_confirm()
        else:
            self.action_cancel()

    def action_confirm(self) -> None:
        """ctrl+y: answers with the typed words once settled and every field is right."""
        waiting = self.settle_problem()
        if waiting is not None:
            self.show_problem(waiting)
            return
        values = self._checked_values()
        if values is not None:
            self.answer(confirmation_from(values))

    def action_cancel(self) -> None:
        self.answer(None)
