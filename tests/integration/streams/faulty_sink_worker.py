"""``python faulty_sink_worker.py <streams worker arguments>``: a stream worker whose lake writer
throws on one valid record, the event id in ``POISON_EVENT_ID`` (a sink failure no validation can
foresee). Used by test_poison_records.py; everything else is the real worker (`python -m streams`).
"""

from __future__ import annotations

import os

from streams import ingestion
from streams.__main__ import main
from streams.lake_files import LakeFile

POISON = os.environ["POISON_EVENT_ID"]
_write = ingestion.write_lake_file


def faulty_write(root: str, file: LakeFile) -> str:
    table = file.table
    if "event_id" in table.column_names and POISON in table.column("event_id").to_pylist():
        raise ValueError(f"the sink refuses {POISON}")
    return _write(root, file)


ingestion.write_lake_file = faulty_write

if __name__ == "__main__":
    main()
