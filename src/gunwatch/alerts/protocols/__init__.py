"""Safety protocols: a trigger and ordered steps, run by the engine for each matching event."""
