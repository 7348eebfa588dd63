"""The deterministic matching core: order books and (later) the exchange state machine."""
