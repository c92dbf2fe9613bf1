"""`A` in the follow view: a second operator reads the pending request and approves it.

The request is shown as its operator's cockpit wrote it (the plan, the guards and their
facts), then APPROVE typed in capitals and a reason. The follow view writes the approval with
the same checks as `cockpit approve`; this screen only collects the words.
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from cockpit.actions.approval import APPROVE_WORD

WORD_INPUT_ID = "approve-word"
REASON_INPUT_ID = "approve-reason"


class ApproverWords(NamedTuple):
    """What the second operator typed: the word and the reason."""

    word: str
    reason: str


class ApproveRequestScreen(ModalScreen[ApproverWords | None]):
    """The request's lines, then the word and the reason; enter in the reason submits."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Approve nothing")]
    AUTO_FOCUS = f"#{WORD_INPUT_ID}"

    DEFAULT_CSS = """
    ApproveRequestScreen { align: center middle; }
    ApproveRequestScreen > Vertical {
        width: 100%;
        max-width: 110;
        height: auto;
        max-height: 100%;
        border: heavy $warning;
        background: $surface;
        padding: 0 1;
    }
    ApproveRequestScreen VerticalScroll { height: auto; max-height: 14; }
    ApproveRequestScreen #problem { color: $error; }
    """

    def __init__(self, lines: list[str]) -> None:
        super().__init__()
        self._lines = lines

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("APPROVE A ONE-WAY DOOR for another operator", style="bold"))
            with VerticalScroll():
                yield Static(Text("\n".join(self._lines)))
            yield Static(f"type {APPROVE_WORD} to approve exactly this plan, then a reason")
            yield Input(placeholder=APPROVE_WORD, id=WORD_INPUT_ID)
            yield Input(placeholder="reason (journaled with your name)", id=REASON_INPUT_ID)
            yield Static("", id="problem")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == WORD_INPUT_ID:
            self.query_one(f"#{REASON_INPUT_ID}", Input).focus()
            return
        word = self.query_one(f"#{WORD_INPUT_ID}", Input).value.strip()
        reason = event.value.strip()
        problem = _problem(word, reason)
        if problem is not None:
            self.query_one("#problem", Static).update(problem)
            return
        self.dismiss(ApproverWords(word, reason))

    def action_cancel(self) -> None:
        self.dismiss(None)


def _problem(word: str, reason: str) -> str | None:
    if word != APPROVE_WORD:
        return f"type {APPROVE_WORD} in capitals in the first field to approve"
    if not reason:
        return "a reason is required: it goes into the operator's journal with your name"
    return None
