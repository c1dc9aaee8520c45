"""Reference Worldnet GoChip "Websockets" agent (semi-and-websockets.md part B).

A local service between a POS and a card reader, speaking ``{"type": "REQ_…" |
"RES_ON_…", "data": …}`` JSON frames on ``ws://127.0.0.1:8080/middleware``.

Where things live:

* :mod:`frames` - sans-I/O codec: ``decode(raw) -> Frame | BadFrame``, ``encode``,
  request field checks, amounts (decimal strings in, JSON numbers out);
* :mod:`states` - the connection's states, what each accepts and its transitions, as
  tables;
* :mod:`agent` - :class:`~agent.Agent` (readers, records, the shared acquirer) and
  :class:`~agent.Session` with one handler per request type (``@handles``);
* :mod:`sale` - a card transaction on the reader as a SimPy process (prompts, host,
  reversal, final frames); :mod:`card_reader` - the adapter to the reader (the
  terminal application over a virtual ABECS pinpad with the EMV kernel and card, or over
  a real pinpad);
* :mod:`entry` - ``inputMethod`` (which interfaces the reader opens) and the final
  frame's entry fields; :mod:`reversals` - ``REQ_PROCESS_REVERSAL`` and the 1.6 refund
  that becomes a reversal; :mod:`tokens` - secure tokens; :mod:`offline` - offline mode
  and the terminal health listener; :mod:`passthru` - ``REQ_DEVICE_PASSTHRU`` as ABECS
  CHP (each registers its handlers with ``@handles``);
* :mod:`conduct` - how a POS under test behaved, graded per section (``GET /state``);
* :mod:`records` - transaction list and batch; :mod:`settings` - settings, tax and
  tip, the gateway simulator (First Data / TSYS Sierra) as data;
* :mod:`client` - a POS for tests, cases and the bench; :mod:`live` - real sockets;
  :mod:`contract` - ``SERVER``, the entry in the server list (``cardloop serve gochip``,
  ``python -m conformance --serve gochip``);
* data: ``timings.toml``, ``settings.toml``, ``gateways.toml``.
"""
