"""`simulate_to_kafka` into the real embedded broker, on topics of its own (a unique prefix).

Every record must arrive once, byte for byte, on the partition the default partitioner gives its
key, with the record timestamp of its event; the truth lands where asked.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from kafka.partitioner.default import murmur2

from glamcast.core import topics
from glamcast.platform import broker
from glamcast.simulator import SimulationConfig, World, simulate_to_kafka

pytestmark = pytest.mark.integration

CONFIG = SimulationConfig(users=150, days=3, start=date(2025, 11, 26), seed=5, posts_per_day=150)


@pytest.mark.parametrize("background", [False, True])
def test_simulate_to_kafka_delivers_every_record_on_its_key_partition(
    stack_settings, unique, tmp_path, background
):
    settings = stack_settings.model_copy(update={"topic_prefix": f"sim-{unique}-{background}."})
    counts = simulate_to_kafka(settings, CONFIG, rate=None, progress=False,
                               truth_dir=tmp_path / "truth", background=background)

    expected = list(World.build(CONFIG).records())
    assert counts == dict(Counter(settings.topic_name(r.topic) for r in expected))
    names = [settings.topic_name(name) for name in topics.INPUT_TOPICS]
    arrived = list(broker.read_all(settings, names))
    assert len(arrived) == len(expected)
    assert Counter((r.topic, r.key, r.value, r.timestamp) for r in arrived) == Counter(
        (settings.topic_name(r.topic), r.key, r.value, r.timestamp_ms) for r in expected
    )
    partitions = {name: topics.TOPICS[name].partitions for name in topics.INPUT_TOPICS}
    for record in arrived:
        count = partitions[record.topic.removeprefix(settings.topic_prefix)]
        assert record.partition == (murmur2(record.key) & 0x7FFFFFFF) % count
    assert (tmp_path / "truth" / "utility.parquet").exists()
