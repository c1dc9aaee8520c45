"""Ports: where the world meets the operating system.

* :mod:`simulator.ports.pty` — socat pty pairs and serial devices as ``ByteEnd``;
* :mod:`simulator.ports.ws` — WebSocket server and client as ``MessageEnd``;
* :mod:`simulator.ports.tcp` — TCP server and client, raw (``ByteEnd``) or framed
  (``FramedEnd``, see :mod:`simulator.framing`).

All of them need a realtime world and run on the asyncio loop that awaits
``World.run_realtime``; in virtual mode the same behaviour uses the in-memory links
of :mod:`simulator.streams`.
"""
