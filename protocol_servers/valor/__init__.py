"""Valor PayTech "POS SEMI Integration" reference terminal (semi-and-websockets.md part A).

Layers, bottom up:

* :mod:`wire` — sans-I/O framing of the byte streams (bare / newline / STX-ETX / USB markers);
* :mod:`dictionary` — requests, response frames and the error texts of §A.5-§A.7;
* :mod:`session` — one connection as a state table (ACK, final, trailing ACK);
* :mod:`card` — the one adapter to the card path (virtual pinpad, EMV card, acquirer);
* :mod:`terminal` — the terminal's behaviour on the world clock: handlers per request,
  batch, STAN and records, fault knobs;
* :mod:`link` — a connection's reader and paced writer over any world end;
* :mod:`pos` — a POS written from the note (the suite's client, the bench, the tests);
* :mod:`live` — real ports: WebSocket + TCP on 5000, cancel on 5001, the USB pty,
  and the client role that dials the POS;
* :mod:`contract` — ``SERVER`` for ``cardloop serve valor`` and the suite's ``--serve``.
"""
