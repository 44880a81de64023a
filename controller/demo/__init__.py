"""``gymctl demo``: a whole simulated gym on this machine, over the real protocols.

Racks are emulated Modbus TCP servers on loopback (``equipment_adapters.emulators.rack``),
the bike, strap and band are bumble peripherals on an in-process virtual air; the controller
(``controller.gym.Gym``) talks to them through the same adapters as to real equipment. The
demo seeds a database with athletes of different readiness and their history, starts their
sessions, and its emulated athletes lift when a set is active and stop when cued.
"""
