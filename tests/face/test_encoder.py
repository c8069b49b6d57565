"""The ResNet in a child process: same descriptor, a free event loop, restart after a crash."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from edge.identity.config import IdentityConfig
from edge.identity.encoder import EncoderFailed, ProcessEncoder
from edge.identity.pipeline import FaceModels, FacePipeline, ModelsUnavailable
from firmware_adapters.camera import Frame


@pytest.fixture
def process_pipeline(models: FaceModels) -> Iterator[FacePipeline]:
    pipeline = FacePipeline(IdentityConfig(encoder="process"), models)
    yield pipeline
    pipeline.close()


def test_child_process_gives_the_same_descriptor(
    pipeline: FacePipeline, process_pipeline: FacePipeline, frame_of: Callable[[str], Frame]
) -> None:
    frame = frame_of("obama2.jpg")
    box = pipeline.detect(frame)[0]
    here = pipeline.encode(frame, box)
    there = process_pipeline.encode(frame, box)
    assert here.shape == there.shape == (128,)
    assert np.linalg.norm(here - there) < 1e-9


async def longest_stall_during(work: Callable[[], object]) -> float:
    """The longest the event loop went without turning while ``work`` ran in a thread."""
    loop = asyncio.get_running_loop()
    longest = 0.0
    done = False

    async def heartbeat() -> None:
        nonlocal longest
        last = loop.time()
        while not done:
            await asyncio.sleep(0)
            now = loop.time()
            longest = max(longest, now - last)
            last = now

    beat = asyncio.create_task(heartbeat())
    await asyncio.sleep(0)
    await asyncio.to_thread(work)
    done = True
    await beat
    return longest


async def test_the_loop_runs_freely_while_the_child_encodes(
    pipeline: FacePipeline, process_pipeline: FacePipeline, frame_of: Callable[[str], Frame]
) -> None:
    frame = frame_of("biden2.jpg")
    box = pipeline.detect(frame)[0]
    process_pipeline.load()

    def encode_five(p: FacePipeline) -> Callable[[], None]:
        def work() -> None:
            for _ in range(5):
                p.encode(frame, box)

        return work

    in_child = await longest_stall_during(encode_five(process_pipeline))
    in_thread = await longest_stall_during(encode_five(pipeline))
    print(f"longest stall: child {in_child * 1000:.1f} ms, thread {in_thread * 1000:.1f} ms")
    # In a thread dlib holds the GIL for each whole encoding, so the loop stalls for one
    # encoding at a time; with the child doing it the loop stalls only when the OS preempts it.
    assert in_child * 3 < in_thread


def test_a_killed_encoder_fails_one_call_then_restarts(
    process_pipeline: FacePipeline, frame_of: Callable[[str], Frame]
) -> None:
    frame = frame_of("kit_harington_john2.jpeg")
    box = process_pipeline.detect(frame)[0]
    first = process_pipeline.encode(frame, box)
    encoder = process_pipeline.chip_encoder
    assert isinstance(encoder, ProcessEncoder)
    assert encoder.pid is not None
    os.kill(encoder.pid, signal.SIGKILL)
    with pytest.raises(ModelsUnavailable, match="died"):
        process_pipeline.encode(frame, box)
    again = process_pipeline.encode(frame, box)
    assert np.linalg.norm(first - again) < 1e-9


def test_a_bad_model_path_is_a_clear_error() -> None:
    with pytest.raises(EncoderFailed, match="face encoder process"):
        ProcessEncoder("/nonexistent/model.dat").start()
