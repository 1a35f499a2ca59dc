"""`glamcast replay` of a real REES46 export: good and bad rows counted, good rows on the topic."""

from __future__ import annotations

import csv
import gzip

import pytest

from glamcast.core import topics
from glamcast.core.events import CommerceEvent, decode_event
from glamcast.platform import broker
from jobs.replay import replay_rees46

pytestmark = pytest.mark.integration

SAMPLE = "rees46-sample/2019-Oct_head17433.csv"


def fresh_topic(settings, unique) -> str:
    spec = topics.TopicSpec(f"test.commerce.{unique}", partitions=4, key="user_id")
    broker.create_topics(settings, [spec])
    return spec.name


def replay_and_count(settings, path, topic_name):
    kafka = broker.producer(settings)
    try:
        report = replay_rees46(path, kafka, topic=topic_name)
    finally:
        kafka.close()
    records = list(broker.read_all(settings, [topic_name]))
    return report, records


def test_replay_of_the_real_sample_accepts_every_row(stack_settings, data_dir, unique):
    path = data_dir / SAMPLE
    with open(path, newline="") as handle:
        rows = sum(1 for _ in csv.DictReader(handle))
    report, records = replay_and_count(stack_settings, path, fresh_topic(stack_settings, unique))
    assert (report.good, report.bad) == (rows, 0) == (17433, 0)
    assert len(records) == rows
    events = [decode_event(CommerceEvent, record.value) for record in records]
    assert all(isinstance(event, CommerceEvent) for event in events)
    assert all(record.key == event.user_id.encode() for record, event in zip(records, events))


def test_replay_counts_bad_rows_with_line_numbers_and_goes_on(stack_settings, data_dir, tmp_path,
                                                              unique):
    with open(data_dir / SAMPLE, newline="") as handle:
        lines = handle.read().splitlines()
    header, body = lines[0], lines[1:1001]
    broken = {
        5: body[5].replace(",view,", ",wishlist,"),                 # unknown event type
        10: body[10].replace("2019-10-01", "2019-10-99"),           # bad timestamp
        20: ",".join(body[20].split(",")[:-2]),                    # missing fields
        30: body[30].replace(body[30].split(",")[6], "-1.0", 1),   # negative price
    }
    for index, line in broken.items():
        body[index] = line
    export = tmp_path / "shop.csv.gz"
    with gzip.open(export, "wt", newline="") as handle:
        handle.write("\n".join([header, *body]) + "\n")

    report, records = replay_and_count(stack_settings, export, fresh_topic(stack_settings, unique))
    assert (report.good, report.bad) == (996, 4)
    assert len(records) == 996
    assert [line for line, _ in report.errors] == [index + 2 for index in sorted(broken)]
    messages = " | ".join(message for _, message in report.errors)
    for needle in ("event_type: 'wishlist'", "event_time", "fields, expected 9", "price: '-1.0'"):
        assert needle in messages
