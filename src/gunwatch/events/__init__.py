"""Threat events: the model, the store, the evidence."""
