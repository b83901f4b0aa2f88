/* wire format: see docs/wire.md */
