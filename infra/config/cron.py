"""The cron grammar a Kubernetes CronJob accepts (five fields, or a macro), checked field by field so a schedule
the API server would refuse at `up` is refused at config time, naming the field and its range."""

from __future__ import annotations

import re

MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# name, lowest, highest, names that stand for numbers (from `lowest`)
FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, MONTHS),
    ("day of week", 0, 7, DAYS),
)
_PART = re.compile(r"^(?P<range>\*|\?|[0-9a-z]+(-[0-9a-z]+)?)(/(?P<step>[0-9]+))?$")


def _number(text: str, lowest: int, names: tuple[str, ...]) -> int:
    if text.isdigit():
        return int(text)
    if text in names:
        return names.index(text) + (lowest if names is MONTHS else 0)
    raise ValueError(text)


def check_field(text: str, name: str, lowest: int, highest: int, names: tuple[str, ...]) -> None:
    for part in text.lower().split(","):
        match = _PART.match(part)
        if not match:
            raise ValueError(f"{name} {text!r}: {part!r} is not N, N-M, */S, N-M/S or a list of them")
        if match["step"] is not None and int(match["step"]) == 0:
            raise ValueError(f"{name} {text!r}: a step of 0 never fires")
        if match["range"] in ("*", "?"):
            continue
        try:
            bounds = [_number(v, lowest, names) for v in match["range"].split("-")]
        except ValueError as exc:
            raise ValueError(f"{name} {text!r}: {exc} is not a number{' or name' if names else ''}") from None
        if any(not lowest <= b <= highest for b in bounds):
            raise ValueError(f"{name} {text!r}: must be within {lowest}-{highest}")
        if len(bounds) == 2 and bounds[0] > bounds[1]:
            raise ValueError(f"{name} {text!r}: a range must go upwards")


def check_schedule(schedule: str) -> str:
    text = schedule.strip()
    if text.lower() in MACROS:
        return schedule
    if text.startswith(("TZ=", "CRON_TZ=")):
        raise ValueError("put the time zone in a CronJob's timeZone, not in the schedule")
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(
            f"must have 5 fields (minute hour day-of-month month day-of-week) or be one of {', '.join(MACROS)}; "
            f"got {len(fields)}"
        )
    for value, (name, lowest, highest, names) in zip(fields, FIELDS, strict=True):
        check_field(value, name, lowest, highest, names)
    return schedule
