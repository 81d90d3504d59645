"""Sentences from measurements, the machine's load, and timing with a fixed thread count (notebook 05).

Notebook 05 first works out one comparison by hand (a ratio, then a verb chosen from its
direction); from then on the notebooks call :func:`compare`, so that a printed conclusion can never
say the opposite of the numbers it is made from.

    compare(...)            one sentence comparing two measurements, e.g. "A is 3.4 times as fast as B"
    load_warning()          one line when the machine is busier than it has cores, else None
    print_load_warning()    prints that line (or the load, when all is well) and returns the warning
    fixed_threads(count)    a context manager: run timed code with `count` PyTorch threads
"""

from __future__ import annotations

import math
import os
import statistics
from contextlib import contextmanager

__all__ = ["compare", "summarize", "significant", "machine_load", "load_warning",
           "print_load_warning", "fixed_threads"]


def significant(x: float, digits: int = 2) -> str:
    """``x`` rounded to ``digits`` significant figures, written without an exponent.

    ``significant(3.4567) == "3.5"``, ``significant(0.5123) == "0.51"``, ``significant(123.4) == "120"``.
    """
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    rounded = float(f"{x:.{digits}g}")
    if abs(rounded) >= 10 ** (digits - 1):
        return f"{rounded:,.0f}"
    decimals = digits - 1 - math.floor(math.log10(abs(rounded)))
    return f"{rounded:.{decimals}f}"


def _value(x: float) -> str:
    """A measured value for the parentheses: three significant figures (whole numbers from 100 on)."""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def summarize(value) -> tuple[float, float]:
    """A single measurement, or a list of repeats, as ``(median, relative range)``.

    The relative range is ``(max - min) / median``: 0.1 means the repeats were spread over 10 % of
    their median. A single number has a relative range of 0.
    """
    if isinstance(value, (int, float)):
        return float(value), 0.0
    values = [float(v) for v in value]
    if not values:
        raise ValueError("compare() needs at least one measurement per side, got an empty list")
    middle = statistics.median(values)
    if middle == 0:
        return 0.0, 0.0
    return middle, (max(values) - min(values)) / abs(middle)


def compare(name_a: str, value_a, name_b: str, value_b, unit: str = "images/s",
            higher_is_better: bool = True, spread: float | None = None, *,
            words: tuple[str, str, str] = ("faster", "slower", "fast")) -> str:
    """One sentence saying how measurement A compares with measurement B.

    Arguments:
        name_a, name_b: what was measured, as it should read in the sentence ("the TensorLoader").
        value_a, value_b: one number each, or a list of repeated measurements; a list counts by its
            median, and its relative range (max - min over the median) is its spread.
        unit: the unit of the values, printed after them ("images/s", "s").
        higher_is_better: True for rates (images/s), False for costs (seconds, bytes): with seconds,
            the smaller time is the faster one.
        spread: the relative spread of repeated measurements (0.1 = 10 %). A difference no larger
            than it is "about the same". Lists of repeats give their own spread; the larger is used.
        words: (better, worse, adjective) for the verb, ("faster", "slower", "fast") by default;
            e.g. ("lower", "higher", "low") for a loss with ``higher_is_better=False``.

    The factor is always written with two significant figures: below 2 as a percentage ("25 %
    faster", "49 % slower"), from 2 on as a multiple ("3.4 times as fast as"), so that 0.51 never
    rounds to 0 or 1. A difference under 1 % is "about the same" even without a spread.
    """
    better, worse, adjective = words
    a, spread_a = summarize(value_a)
    b, spread_b = summarize(value_b)
    noise = max(spread_a, spread_b, spread or 0.0)
    numbers = f"{_value(a)} vs {_value(b)} {unit}".rstrip()
    if not (math.isfinite(a) and math.isfinite(b)) or a <= 0 or b <= 0:
        return f"{name_a} and {name_b} cannot be compared as a ratio ({numbers})."
    # How many times better A is than B: above 1, A is better; below 1, B is.
    factor = a / b if higher_is_better else b / a
    if abs(factor - 1) <= noise or abs(factor - 1) < 0.01:
        within = (f"; the difference, {significant(abs(factor - 1) * 100)} %, is within the "
                  f"{significant(noise * 100)} % spread of repeated runs"
                  if abs(factor - 1) <= noise else "")
        return f"{name_a} and {name_b} are about the same ({numbers}{within})."
    if factor >= 2:
        return f"{name_a} is {significant(factor)} times as {adjective} as {name_b} ({numbers})."
    if factor > 1:
        return f"{name_a} is {significant((factor - 1) * 100)} % {better} than {name_b} ({numbers})."
    if factor > 0.5:
        return f"{name_a} is {significant((1 - factor) * 100)} % {worse} than {name_b} ({numbers})."
    return (f"{name_a} is {worse} than {name_b}: {name_b} is {significant(1 / factor)} times as "
            f"{adjective} ({numbers}).")


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may run on (Linux)
    except AttributeError:
        return os.cpu_count() or 1


def machine_load() -> tuple[float | None, int]:
    """(1-minute load average, usable cores); the load is None where the system has none (Windows)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = None
    return load, _usable_cores()


def load_warning() -> str | None:
    """One line when the 1-minute load average exceeds the usable cores, otherwise None.

    The load average counts the processes that are running or waiting to run. Above the number of
    cores, some of them wait for a core, and timings measured now include that waiting.
    """
    load, cores = machine_load()
    if load is None or load <= cores:
        return None
    return (f"This machine is busy (load {load:.1f} on {cores} core{'s' if cores != 1 else ''}): "
            "timings below may be noisy, and a comparison may differ from a quiet machine's.")


def print_load_warning() -> str | None:
    """Print the load warning, or one line with the load when the machine is not busy; return the warning."""
    warning = load_warning()
    if warning:
        print(warning)
    else:
        load, cores = machine_load()
        if load is not None:
            print(f"Machine load {load:.1f} on {cores} core{'s' if cores != 1 else ''}: quiet enough to time.")
    return warning


@contextmanager
def fixed_threads(count: int = 1):
    """Run the code inside with ``count`` PyTorch threads, and restore the previous count after.

    Why: by default PyTorch starts one thread per core and splits each operation between them;
    every thread must finish its share before the next operation starts. On a shared machine,
    another process often holds one of those cores, so the whole operation waits for the slowest
    thread, and small operations (a batch of 4 images) become several times slower. One thread
    never waits for another, so two things timed this way compare fairly even when the machine is
    busy. (DataLoader worker processes already use one thread each.)

        with fixed_threads(1):
            ...   # timed code
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield count
    finally:
        torch.set_num_threads(previous)
