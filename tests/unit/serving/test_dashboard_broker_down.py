"""The dashboard with no broker: the page still answers, says why the alerts are missing, and
waits for the broker no longer than the readiness bound (kafka-python's own bootstrap wait is
30 s, which held the whole page)."""

from __future__ import annotations

import time
from pathlib import Path

from glamcast.core.settings import Settings
from glamcast.platform.stack import free_port
from glamcast.serving.dashboard import alerts_section


def test_alerts_section_gives_up_on_a_silent_broker_within_the_readiness_bound(
    tmp_path: Path,
) -> None:
    settings = Settings(state_dir=tmp_path, kafka_bootstrap=f"127.0.0.1:{free_port()}",
                        api_ready_timeout_s=0.5)
    started = time.monotonic()
    section = alerts_section(settings)
    waited = time.monotonic() - started
    assert section["alerts"] == []
    assert section["note"].startswith("The alerts topic could not be read"), section["note"]
    # the bound plus the client's own start-up and close, far below the 30 s default
    assert waited < 10, waited
