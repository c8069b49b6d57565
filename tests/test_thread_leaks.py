"""The suite-wide thread check (tests/conftest.py) fails a test that leaves a thread running."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).with_name("conftest.py")


def test_a_leaked_thread_or_executor_worker_fails_its_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(CONFTEST.parents[1]))  # the conftest imports tests.*
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))
    pytester.makepyfile(
        test_leaky="""
import asyncio, threading

stop = threading.Event()

def test_parks_a_thread():
    threading.Thread(target=stop.wait, name="parked-reader").start()

def test_then_lets_it_go():
    stop.set()

async def test_joined_executor_work_is_fine():
    await asyncio.to_thread(sum, [1, 2])
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-o", "asyncio_mode=auto")
    result.assert_outcomes(passed=3, errors=1)  # the leak fails at teardown
    result.stdout.fnmatch_lines(["*threads left running after the test: parked-reader*"])
