"""The seeded synthetic world behind `glamcast simulate`: catalogue, people, try-ons, shop, social.

`World.build(SimulationConfig(...))` draws the world; `World.records()` yields its Kafka records
in time order; `World.truth` holds the latent facts for evaluation. The writers send the records
to Kafka or to files.
"""

from glamcast.simulator.config import SimulationConfig
from glamcast.simulator.records import Record
from glamcast.simulator.world import World

__all__ = ["Record", "SimulationConfig", "World"]
