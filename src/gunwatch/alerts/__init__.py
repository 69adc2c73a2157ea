"""Alerts: channels that carry messages, the durable outbox that delivers them, and the site's protocols."""
