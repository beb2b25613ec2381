"""Named pause points, so crash tests can SIGKILL a process at an exact place.

Why: a kill test that sleeps and hopes races the code under test. With
``AUGPLAT_TEST_PAUSE_AT=<point>`` (or ``<point>:<count>``, e.g. ``train.epoch_logged:2``) the
process reaches :func:`pause`, writes ``<point> <pid>`` to ``AUGPLAT_TEST_PAUSE_FILE``
(atomically) and waits there forever; the test sees the file and sends SIGKILL. Unset (always,
outside tests), a pause point costs one environment lookup.

Points: ``train.fit`` (run open, inputs logged, before epoch 1), ``train.epoch_logged:<epoch>``,
``train.test_logged``, ``train.model_logged``, ``gan.fit``, ``gan.step_logged:<step>``,
``gan.outputs_logged``.
"""

from __future__ import annotations

import os
import time

PAUSE_AT_VAR = "AUGPLAT_TEST_PAUSE_AT"
PAUSE_FILE_VAR = "AUGPLAT_TEST_PAUSE_FILE"


def pause(point: str, count: int | None = None) -> None:
    """Wait forever here when ``AUGPLAT_TEST_PAUSE_AT`` names this point (and count)."""
    wanted = os.environ.get(PAUSE_AT_VAR)
    if not wanted:
        return
    here = {point} if count is None else {point, f"{point}:{count}"}
    if wanted not in here:
        return
    from augplat.runtime.fsutil import atomic_path

    marker = os.environ.get(PAUSE_FILE_VAR) or "augplat-paused"
    with atomic_path(marker) as tmp:
        tmp.write_text(f"{wanted} {os.getpid()}", encoding="utf-8")
    while True:
        time.sleep(3600)
