"""Reference Payworks PayServer speaking P3 over WebSocket and framed TCP.

Where things live (payworks-p3.md; decisions in DECISIONS.md "Payworks PayServer P3"):

* :mod:`envelope` - sans-I/O codec: ``decode(raw) -> Request | BadRequest`` checked
  against ``schemas/*.json``; ``ok_response`` / ``error_response`` / ``unsolicited``;
* :mod:`tcpframes` - sans-I/O 4-byte length-prefix decoder with the P3 answers to bad
  lengths; :mod:`jsonwire` - exact decimals in and out; :mod:`money` - minor units;
* :mod:`transaction` - one transaction's rules (abortable, pending action, messages);
* :mod:`flows` / :mod:`abecs_flow` - the SimPy processes of a transaction on a MOCK
  reader or on an ABECS pinpad (:mod:`abecs_reader`) with the shared acquirer;
* :mod:`server` - :class:`~server.PayServer` with ``accept(MessageEnd)`` (WebSocket or
  in-memory) and ``accept_stream(ByteEnd)`` (framed TCP); :mod:`live` - real sockets
  and ptys; :mod:`contract` - the server contract (``cardloop serve p3``);
* :mod:`client` - a POS for tests, cases and the bench (``connect_local``, ``told``);
* data: ``timings.toml``, ``outcomes.toml`` (test amount digits), ``errors.toml``,
  ``currencies.toml``, ``mock_card.toml``.
"""
