"""The confirm dialog: the plan and the guard facts first, then a confirmation that fits the risk.

A reversible step takes `y`; a one-way door takes its name typed exactly; a blocked action takes
a typed OVERRIDE and a reason, which the runner journals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from cockpit.actions.model import ActionId, GuardFact, GuardResult, Plan
from cockpit.actions.runner import Confirmation
from widgets.formatting import seconds_text

OVERRIDE_WORD = "OVERRIDE"
ONE_WAY_BANNER = "ONE-WAY DOOR — cannot be undone"
DRY_RUN_BANNER = "DRY RUN — nothing will change; the plan is journaled"
OVERRIDE_INPUT_ID = "override-word"
REASON_INPUT_ID = "override-reason"
NAME_INPUT_ID = "confirm-word"


@dataclass(frozen=True)
class ConfirmRequest:
    """What the operator is asked to confirm: the plan, every guard, and the ones that block."""

    title: str
    plan: Plan
    guards: tuple[GuardResult, ...]
    blocked: tuple[GuardResult, ...]
    dry_run: bool = False

    @property
    def needs_override(self) -> bool:
        return bool(self.blocked)

    @property
    def needs_typing(self) -> bool:
        """True when `y` is not enough: a one-way door or an override."""
        return self.needs_override or self.plan.confirm_word is not None


@dataclass(frozen=True)
class AnswerField:
    """One input of the typed confirmation: its id, its label, and what makes it valid."""

    input_id: str
    label: str
    placeholder: str
    problem: Callable[[str], str | None]


def override_word_problem(typed: str) -> str | None:
    """None when OVERRIDE was typed exactly; otherwise what to type."""
    if typed == OVERRIDE_WORD:
        return None
    return f"does not match: type {OVERRIDE_WORD} in capitals to run despite the blocked guards"


def reason_problem(reason: str) -> str | None:
    """None when a reason was given; an override without one is refused."""
    if reason.strip():
        return None
    return "a reason is required to override: it goes into the journal"


def name_problem(confirm_word: str) -> Callable[[str], str | None]:
    """A check that the one-way door's name was typed exactly."""

    def problem(typed: str) -> str | None:
        if typed == confirm_word:
            return None
        return f"does not match: type {confirm_word} exactly (case matters)"

    return problem


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
        verb = "promote" if request.plan.action_id is ActionId.PROMOTE else "confirm"
        label = f"type {word} to {verb}:"
        fields.append(AnswerField(NAME_INPUT_ID, label, "case matters", name_problem(word)))
    return tuple(fields)


def confirmation_from(values: dict[str, str]) -> Confirmation:
    """The operator's answer from the inputs' values (absent inputs are None)."""
    reason = values.get(REASON_INPUT_ID, "").strip()
    return Confirmation(
        typed_word=values.get(NAME_INPUT_ID),
        override_reason=reason or None,
    )


def banner_text(request: ConfirmRequest) -> Text:
    """The one-way and dry-run banners, one per line ('' when neither applies)."""
    lines: list[Text] = []
    if request.plan.one_way:
        lines.append(Text(f" {ONE_WAY_BANNER} ", style="bold white on red"))
    if request.dry_run:
        lines.append(Text(f" {DRY_RUN_BANNER} ", style="bold black on yellow"))
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


def keys_hint(request: ConfirmRequest) -> str:
    """The keys that answer this dialog, always visible at the bottom."""
    if request.needs_typing:
        return "enter = confirm · tab = next field · esc = cancel · pgup/pgdn = scroll"
    verb = "journal the plan (dry run)" if request.dry_run else "run it"
    return f"y = {verb} · n or esc = cancel · pgup/pgdn = scroll"


class ConfirmActionScreen(ModalScreen[Confirmation | None]):
    """Shows exactly what an action will do and what the guards saw; returns the operator's answer.

    Dismisses with a Confirmation when confirmed, None when cancelled. The answer area is docked
    at the bottom so the inputs and keys stay visible while a long plan scrolls.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm_plain", "Confirm"),
        Binding("n", "decline", "Cancel"),
        Binding("escape", "cancel", "Cancel", show=False),
        Binding("pageup", "scroll_plan(-1)", "Scroll up", show=False),
        Binding("pagedown", "scroll_plan(1)", "Scroll down", show=False),
    ]

    DEFAULT_CSS = """
    ConfirmActionScreen { align: center middle; }
    ConfirmActionScreen > #dialog {
        width: 100%;
        max-width: 120;
        height: 100%;
        border: heavy $warning;
        border-title-align: left;
        border-title-style: bold;
        background: $surface;
        padding: 0 1;
    }
    ConfirmActionScreen > #dialog.-danger { border: heavy $error; }
    ConfirmActionScreen #plan { height: 1fr; }
    ConfirmActionScreen #plan > Static { margin-bottom: 1; }
    ConfirmActionScreen #answer { dock: bottom; height: auto; }
    ConfirmActionScreen #answer > Horizontal { height: 1; }
    ConfirmActionScreen #answer Label { width: auto; margin-right: 1; text-style: bold; }
    ConfirmActionScreen #answer Input { width: 1fr; }
    ConfirmActionScreen #problem { color: $error; text-style: bold; }
    ConfirmActionScreen #keys { color: $text-muted; }
    """

    def __init__(self, request: ConfirmRequest) -> None:
        super().__init__()
        self.request = request
        self.fields = answer_fields(request)
        self.answered = False

    def compose(self) -> ComposeResult:
        request = self.request
        with Vertical(id="dialog") as dialog:
            dialog.border_title = request.title
            dialog.set_class(request.plan.one_way or request.needs_override, "-danger")
            with Vertical(id="answer"):
                yield Static("", id="problem")
                for field in self.fields:
                    with Horizontal():
                        yield Label(field.label)
                        yield Input(id=field.input_id, compact=True, placeholder=field.placeholder)
                yield Static(keys_hint(request), id="keys")
            with VerticalScroll(id="plan"):
                yield from self._plan_statics()

    def _plan_statics(self) -> ComposeResult:
        request = self.request
        banner = banner_text(request)
        if banner:
            yield Static(banner, id="banner")
        yield Static(Text(request.plan.summary, style="bold"), id="summary")
        if request.needs_override:
            yield Static(blocked_text(request.blocked), id="blocked")
        yield Static(changes_text(request.plan), id="changes")
        yield Static(calls_text(request.plan), id="calls")
        if request.plan.notes:
            yield Static(notes_text(request.plan), id="notes")
        yield Static(guards_text(request.guards), id="guards")

    def on_mount(self) -> None:
        if self.fields:
            self.query_one(f"#{self.fields[0].input_id}", Input).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`y` and `n` answer only the plain dialog; typed dialogs need enter or escape."""
        if action in ("confirm_plain", "decline"):
            return not self.request.needs_typing
        return True

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.submit()

    def submit(self) -> None:
        """Confirms when every input is right; otherwise says what is wrong and stays."""
        values = {field.input_id: self._value(field.input_id) for field in self.fields}
        for field in self.fields:
            problem = field.problem(values[field.input_id])
            if problem is not None:
                self.show_problem(problem)
                self.query_one(f"#{field.input_id}", Input).focus()
                return
        self.answer(confirmation_from(values))

    def answer(self, confirmation: Confirmation | None) -> None:
        """Dismisses once: a second key pressed before the dialog closes does nothing."""
        if self.answered:
            return
        self.answered = True
        self.dismiss(confirmation)

    def show_problem(self, problem: str) -> None:
        self.query_one("#problem", Static).update(problem)

    def _value(self, input_id: str) -> str:
        return self.query_one(f"#{input_id}", Input).value

    def action_confirm_plain(self) -> None:
        self.answer(Confirmation())

    def action_scroll_plan(self, pages: int) -> None:
        """Scrolls the plan a page while the focus stays in the input being typed."""
        plan = self.query_one("#plan", VerticalScroll)
        if pages < 0:
            plan.scroll_page_up(animate=False)
        else:
            plan.scroll_page_down(animate=False)

    def action_decline(self) -> None:
        self.answer(None)

    def action_cancel(self) -> None:
        self.answer(None)
