"""Reference Pagar.me mpos-bridge (Bifrost 0.0.19) server, with both profiles.

The protocol (mpos-bridge.md §2) in sans-I/O modules:

* :mod:`.codec`     requests in, responses out (types, JSON conventions, error strings);
* :mod:`.contexts`  the global context table and the sequence rule (§2.6);
* :mod:`.profiles`  ``documented`` and ``bifrost-0.0.19`` (DECISIONS.md), rule switches;
* :mod:`.card_hash` the card_hash of §3.4; :mod:`.tables` terminal tables for TLR.

Behaviour on the world's clock:

* :class:`.server.MposBridgeServer` ``accept(end, info)`` serves one POS connection;
* :class:`.session.PinpadSession` the libmpos flows over an ABECS host (§3.3, §5);
* :func:`.lab.build_lab` pinpads + acquirer + bridge, in memory or on ptys;
* :func:`.runtime.start_bridge` the same on ptys, ``ws(s)://127.0.0.1:<port>/mpos`` and
  the merchant API (:mod:`protocol_servers.merchant_api`); :mod:`.contract` the server
  contract (``cardloop serve mpos``, ``--serve mpos``) with its control actions;
* :class:`.client.MposClient` a POS inside the world; :func:`.pos.run_sale` a POS outside.
"""
