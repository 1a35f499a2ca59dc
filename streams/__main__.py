"""``python -m streams worker [faust worker options]``: one stream worker process.

The settings come from the environment (GLAMCAST_*); `streams.worker.run` starts several of
these with their own web ports and forwards SIGTERM to them.
"""

from __future__ import annotations

import sys

from glamcast.settings import get_settings
from streams.app import ensure_topics, worker_app


def main() -> None:
    settings = get_settings()
    if "worker" in sys.argv[1:]:
        ensure_topics(settings)
    worker_app(settings).main()


if __name__ == "__main__":
    main()
