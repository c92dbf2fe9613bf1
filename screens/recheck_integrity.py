"""Chooses what the integrity re-check covers: everything, or one table of the last run."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from cockpit.io.integrity_result import TableResult

EVERYTHING = "*"
"""The choice that re-checks every database table and bucket pair."""


def table_choices(results: Sequence[TableResult]) -> list[TableResult]:
    """The last run's tables, those not OK first, each group in the run's order."""
    return sorted(results, key=lambda result: result.status == "OK")


class RecheckIntegrityScreen(ModalScreen[str | None]):
    """Enter re-checks the highlighted choice; escape leaves everything as it is."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]
    DEFAULT_CSS = """
    RecheckIntegrityScreen { align: center middle; }
    RecheckIntegrityScreen > Vertical {
        width: 76; height: auto; max-height: 20; border: heavy $accent; padding: 0 1;
    }
    RecheckIntegrityScreen OptionList { height: auto; max-height: 14; }
    """

    def __init__(self, results: Sequence[TableResult], buckets: int) -> None:
        super().__init__()
        self._results = table_choices(results)
        self._buckets = buckets

    def compose(self) -> Iterable[Widget]:
        buckets = f" and {self._buckets} bucket pairs" if self._buckets else ""
        options = [Option(f"Everything: every table{buckets}", id=EVERYTHING)]
        options += [Option(self._label(result), id=result.table) for result in self._results]
        with Vertical():
            yield Static("Re-check integrity: enter = re-check, escape = cancel")
            yield OptionList(*options)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    @staticmethod
    def _label(result: TableResult) -> Text:
        return Text.assemble((f"{result.word:<10}", "bold"), " only ", result.table)
