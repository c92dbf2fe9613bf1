"""Traffic weights as plans, journals and the screen write them: JSON and one line of text."""

from __future__ import annotations

from collections.abc import Mapping

from cockpit.io.failures import ActionFailed
from cockpit.io.traffic import member_label, split_percent
from cockpit.io.weights import RawWeights
from cockpit.jsonvalue import JsonValue
from cockpit.units import percent_number


def weights_text(weights: RawWeights) -> str:
    """'old 75 % / new 25 %', or every member's true share when the set has more members."""
    if not weights.others:
        old_percent, new_percent = split_percent(weights.old, weights.new)
        return f"old {percent_number(old_percent)} % / new {percent_number(new_percent)} %"
    named = [("old", weights.old), ("new", weights.new)]
    named += [(member_label(name), weight) for name, weight in weights.others]
    total = sum(weight for _, weight in named)
    shares = [100 / len(named) if total == 0 else weight / total * 100 for _, weight in named]
    return " / ".join(
        f"{label} {percent_number(share)} %"
        for (label, _), share in zip(named, shares, strict=True)
    )


def weights_json(weights: RawWeights) -> dict[str, JsonValue]:
    """{"old": 75, "new": 25}, plus "others": {name: weight} when the set has more members."""
    data: dict[str, JsonValue] = {"old": weights.old, "new": weights.new}
    if weights.others:
        others: dict[str, JsonValue] = dict(weights.others)
        data["others"] = others
    return data


def weights_from_json(data: Mapping[str, object]) -> RawWeights:
    """The weights a plan, journal or reading recorded ({"old", "new"} and maybe "others")."""
    old, new, others = data.get("old"), data.get("new"), data.get("others", {})
    if not isinstance(old, int) or not isinstance(new, int) or not isinstance(others, Mapping):
        raise ActionFailed(f"recorded weights {dict(data)} are not whole numbers")
    pairs = sorted((str(name), weight) for name, weight in others.items())
    whole = tuple((name, weight) for name, weight in pairs if isinstance(weight, int))
    if len(whole) != len(pairs):
        raise ActionFailed(f"recorded weights {dict(data)} are not whole numbers")
    return RawWeights(old, new, whole)


def weights_from_json_or_none(data: object) -> RawWeights | None:
    """The weights a recorded or read value holds; None when it holds none."""
    if not isinstance(data, Mapping):
        return None
    try:
        return weights_from_json(data)
    except ActionFailed:
        return None
