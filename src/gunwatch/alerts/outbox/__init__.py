"""The durable outbox: every notification and action is stored before it is attempted, then delivered
at least once by one worker per lane, with retries, surviving restarts and `kill -9`."""

from gunwatch.alerts.outbox.deliveries import Delivery, NewDelivery
from gunwatch.alerts.outbox.outbox import Outbox

__all__ = ["Delivery", "NewDelivery", "Outbox"]
