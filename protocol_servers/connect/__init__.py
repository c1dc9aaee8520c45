"""Paymentsense Connect reference server: PAC and PAT over WebSocket JSON-RPC 2.0.

Layers (paymentsense-connect.md sections in brackets):

* :mod:`jsonrpc` — a sans-I/O JSON-RPC 2.0 endpoint for both directions [§3];
* :mod:`handshake` — the query string and its refusals (401/400 + userMessage) [§2];
* :mod:`errors` — the error table, vendor codes marked as ours [§6];
* :mod:`session` — one EPoS socket: reading loop, routed handlers, our own requests;
* :mod:`routing` — handlers registered by decorator per integration and version;
* :mod:`pac` — Pay-At-Counter methods and the transaction on a terminal [§4, §7, §10];
* :mod:`pat` — Pay-At-Table driven by a scripted waiter [§5];
* :mod:`card_machine` — the one adapter over the pinpad, the EMV card and the acquirer
  (cards read, or keyed on the pinpad's keypad for ``cardholderNotPresent``) [§4.3];
* :mod:`notifications`, :mod:`receipts`, :mod:`terminal` — §4.4 values, receipt lines,
  the terminal with its journal (reports [§4.8]);
* :mod:`server` — the account: terminals (``terminals.toml``, magic TIDs of §11),
  sockets, options and rule switches; :mod:`live` — real ports; :mod:`contract` — the
  server contract entry; :mod:`client` — an EPoS written from the note.

Delays are named in ``timings.toml`` with their sources.
"""
