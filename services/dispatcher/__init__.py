"""The dispatcher: one node of the cluster that drives the fleet's ships.

Nodes heartbeat into NATS KV; a ship's owner is chosen by rendezvous hashing over the live
nodes and made exclusive by a per-ship lease (with a TTL kept by the NATS server) whose revision
fences every ship action at the gateway. Each owned ship is one asyncio task running the
behaviour its assignment names, as a small state machine that sleeps until the ship's cooldown
or arrival.
"""

__all__: list[str] = []
