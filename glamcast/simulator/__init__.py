"""The seeded synthetic world behind `glamcast simulate`: catalogue, people, try-ons, shop, social.

`World.build(SimulationConfig(...))` draws the world; `World.records()` yields its Kafka records
in time order; `World.truth` holds the latent facts for evaluation. `simulate_to_kafka` and
`simulate_to_files` do all of it in one call.
"""

from glamcast.simulator.config import SimulationConfig
from glamcast.simulator.records import Record
from glamcast.simulator.world import World
from glamcast.simulator.writers import (
    records_in_background,
    simulate_to_files,
    simulate_to_kafka,
    write_to_files,
    write_to_kafka,
)

__all__ = [
    "Record",
    "SimulationConfig",
    "World",
    "records_in_background",
    "simulate_to_files",
    "simulate_to_kafka",
    "write_to_files",
    "write_to_kafka",
]
