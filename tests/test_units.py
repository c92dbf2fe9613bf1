"""The wording of durations, latencies, sizes and percentages, pinned value by value."""

from __future__ import annotations

from cockpit.units import (
    age_text,
    coarse_duration_text,
    countdown_text,
    fine_duration_text,
    fixed_percent_text,
    latency_ms_text,
    latency_text,
    percent_number,
    ratio_percent_text,
    size_text,
    tenths_age_text,
)


def test_age_text_drops_fractions_and_shows_two_units() -> None:
    assert [age_text(s) for s in (-5, 0, 59.9, 60, 125, 3599, 3600, 90061)] == [
        "0s",
        "0s",
        "59s",
        "1m00s",
        "2m05s",
        "59m59s",
        "1h00m",
        "25h01m",
    ]


def test_tenths_age_text_has_a_decimal_only_under_ten_seconds() -> None:
    assert [tenths_age_text(s) for s in (0, 4.2, 9.94, 10, 125, 3725)] == [
        "0.0s",
        "4.2s",
        "9.9s",
        "10s",
        "2m05s",
        "1h02m",
    ]


def test_countdown_text_rounds_up_and_never_goes_below_zero() -> None:
    assert [countdown_text(s) for s in (-3, 0, 0.2, 59, 59.1, 60, 125, 3725)] == [
        "0 s",
        "0 s",
        "1 s",
        "59 s",
        "1m00s",
        "1m00s",
        "2m05s",
        "1h02m",
    ]


def test_coarse_duration_text() -> None:
    assert [coarse_duration_text(s) for s in (0.2, 59.0, 61.0, 3725.0, None)] == [
        "1s",
        "59s",
        "1m",
        "1h 2m",
        "unknown",
    ]


def test_coarse_duration_text_keeps_only_the_largest_units() -> None:
    assert [coarse_duration_text(s) for s in (0, 59.5, 60, 3599, 3600, 90061)] == [
        "0s",
        "1m",
        "1m",
        "59m",
        "1h 0m",
        "25h 1m",
    ]


def test_fine_duration_text_goes_from_milliseconds_to_tenths_to_an_age() -> None:
    assert [fine_duration_text(s) for s in (0, 0.1204, 0.999, 1, 59.94, 60, 3725)] == [
        "0 ms",
        "120 ms",
        "999 ms",
        "1.0 s",
        "59.9 s",
        "1m00s",
        "1h02m",
    ]


def test_latency_text_switches_to_seconds_at_one_second() -> None:
    assert [latency_text(s) for s in (0, 0.0004, 0.0099, 0.01, 0.012, 0.999, 1, 1.25, 125)] == [
        "0.0 ms",
        "0.4 ms",
        "9.9 ms",
        "10 ms",
        "12 ms",
        "999 ms",
        "1.00 s",
        "1.25 s",
        "125.00 s",
    ]


def test_latency_ms_text_stays_in_milliseconds_up_to_ten_seconds() -> None:
    assert [latency_ms_text(s) for s in (0, 0.0004, 0.01, 0.12, 2.5, 9.999, 10, 12.5, 125)] == [
        "0.0 ms",
        "0.4 ms",
        "10 ms",
        "120 ms",
        "2500 ms",
        "9999 ms",
        "10.0 s",
        "12.5 s",
        "125.0 s",
    ]


def test_size_text_uses_binary_units_up_to_gibibytes() -> None:
    sizes = (0, 512, 1023, 1024, 9.1 * 2**20, 1.2 * 2**30, 5 * 2**40)
    assert [size_text(s) for s in sizes] == [
        "0 B",
        "512 B",
        "1023 B",
        "1.0 KiB",
        "9.1 MiB",
        "1.2 GiB",
        "5120.0 GiB",
    ]


def test_percent_number_keeps_only_the_decimals_that_matter() -> None:
    assert [percent_number(v) for v in (0, 25.0, 100 / 3, 0.04, 99.96, 100, 250)] == [
        "0",
        "25",
        "33.3",
        "0.04",
        "99.96",
        "100",
        "250",
    ]


def test_ratio_percent_text() -> None:
    assert [ratio_percent_text(r) for r in (0, 0.0004, 0.004, 0.01, 0.067, 0.5)] == [
        "0 %",
        "0.04 %",
        "0.4 %",
        "1 %",
        "6.7 %",
        "50 %",
    ]


def test_ratio_percent_text_drops_decimals_from_ten_percent() -> None:
    assert [ratio_percent_text(r) for r in (0.000001, 0.001, 0.0995, 0.1, 1, 12)] == [
        "0.00 %",
        "0.1 %",
        "10 %",
        "10 %",
        "100 %",
        "1200 %",
    ]


def test_fixed_percent_text_keeps_the_decimals_asked_for() -> None:
    assert [fixed_percent_text(r) for r in (0, 0.125, 1, 12)] == [
        "0.0 %",
        "12.5 %",
        "100.0 %",
        "1200.0 %",
    ]
    assert [fixed_percent_text(0.00049, 2), fixed_percent_text(0.5, 0)] == ["0.05 %", "50 %"]
