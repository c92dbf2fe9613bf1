"""Judges key timing, so that an action key counts only when it was pressed on purpose.

An operator typing a shell command into the wrong pane sends letters like `m`, `-` and `y`
at typing speed; an action key meant as one comes after a pause, and its confirm screen is read
before it is answered. The clock is injected (monotonic seconds), so tests script key times.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

QUIET_BEFORE_SECONDS = 0.6
SETTLE_SECONDS = 1.0
TYPING_WINDOW_SECONDS = 1.0
CANCEL_KEY = "escape"
ARRIVALS_KEPT = 64

MonotonicClock = Callable[[], float]


def keys_in_last_second(now: float, arrivals: Iterable[float]) -> int:
    """How many of the earlier key arrivals fell in the typing window before `now`."""
    return sum(1 for arrived_at in arrivals if now - arrived_at <= TYPING_WINDOW_SECONDS)


def typing_reason(key_label: str, now: float, arrivals: Iterable[float]) -> str | None:
    """Why a deliberate key arriving at `now` is taken for typing (None: it came after a pause).

    `arrivals` are the times earlier keys arrived; any of them in the quiet time before `now`
    makes this key part of a stream of typing rather than a key pressed on its own.
    """
    earlier = list(arrivals)
    if not earlier or now - max(earlier) >= QUIET_BEFORE_SECONDS:
        return None
    count = keys_in_last_second(now, earlier) + 1
    return (
        f"{key_label} ignored: keys are arriving like typing ({count} in the last second); "
        f"if you meant it, pause and press {key_label} again"
    )


def settle_reason(now: float, shown_at: float | None) -> str | None:
    """Why a confirm screen takes no answer at `now` (None: it has been read long enough).

    An answer is taken only once the screen has been on screen for the settle time, so a key
    already on its way when the screen opened cannot answer it.
    """
    if shown_at is None:
        return "the confirm screen is not on screen yet"
    left = shown_at + SETTLE_SECONDS - now
    if left > 0:
        return f"wait {left:.1f} s: the confirm screen takes no answer in its first second"
    return None


def typing_cancel_reason(title: str) -> str:
    """What the operator and the journal are told when typing reaches an opening confirm screen."""
    return f"typing detected while the {title} plan opened: cancelled, nothing run"


def escape_cancel_reason(title: str) -> str:
    """What is said when escape cancels a press before its confirm screen took answers."""
    return f"{title} cancelled with escape before its confirm screen was ready: nothing run"


@dataclass(frozen=True)
class OpenPress:
    """An accepted action key: its plan is being prepared, or its confirm screen is settling."""

    title: str
    shown_at: float | None = None


@dataclass(frozen=True)
class Verdict:
    """What becomes of one key: delivered or held back, and what the operator is told.

    `ignored` says why a deliberate key was taken for typing; `cancels` says why the open press
    ends with this key (the cockpit journals it as the press's cancel).
    """

    deliver: bool
    ignored: str | None = None
    cancels: str | None = None


DELIVER = Verdict(deliver=True)


class KeyJudge:
    """Every key's arrival time, and the press whose confirm screen is opening."""

    def __init__(self, clock: MonotonicClock) -> None:
        self.clock = clock
        self._arrivals: deque[float] = deque(maxlen=ARRIVALS_KEPT)
        self._press: OpenPress | None = None

    @property
    def press(self) -> OpenPress | None:
        """The press being prepared or settling, if any."""
        return self._press

    def arrived(self, key: str, *, deliberate: str | None = None) -> Verdict:
        """Judges a key as it arrives, before any binding or widget sees it.

        `deliberate` is the key's label when it would fire an action (or write to the journal,
        or quit); None for every other key.
        """
        now = self.clock()
        verdict = self._judge(key, deliberate, now)
        self._arrivals.append(now)
        return verdict

    def press_started(self, title: str) -> None:
        """An action key was accepted: until its confirm screen has settled, keys cancel it."""
        self._press = OpenPress(title)

    def dialog_shown(self, shown_at: float) -> None:
        """The press's confirm screen is on screen since `shown_at`: the settle time starts."""
        if self._press is not None:
            self._press = replace(self._press, shown_at=shown_at)

    def press_closed(self) -> None:
        """The press ended (answered, cancelled or refused): keys are judged on their own again."""
        self._press = None

    def _judge(self, key: str, deliberate: str | None, now: float) -> Verdict:
        press = self._press
        if press is not None and settle_reason(now, press.shown_at) is not None:
            return self._interrupting(press, key)
        if deliberate is None:
            return DELIVER
        reason = typing_reason(deliberate, now, self._arrivals)
        return DELIVER if reason is None else Verdict(deliver=False, ignored=reason)

    def _interrupting(self, press: OpenPress, key: str) -> Verdict:
        """A key before the confirm screen takes answers: never delivered, always cancels."""
        self._press = None
        if key == CANCEL_KEY:
            return Verdict(deliver=False, cancels=escape_cancel_reason(press.title))
        return Verdict(deliver=False, cancels=typing_cancel_reason(press.title))
