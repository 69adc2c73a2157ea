"""`gunwatch config check --reach`, channels: connect to each channel's receiver without sending a message.

SMTP: connect, EHLO, STARTTLS and login as configured; MQTT: connect and CONNACK; webhook: TCP and the TLS
handshake to its host; file: its folder writable. An apprise service cannot be checked without sending, and
says so. All channels are tried at once, each within its own timeout; one failing never stops the others.
"""

from __future__ import annotations

import threading

from gunwatch.alerts.channels.base import DeliveryError
from gunwatch.alerts.channels.registry import ADAPTERS
from gunwatch.config.channels import BaseChannelConfig
from gunwatch.config.redact import endpoint_only, redact_url
from gunwatch.video.reach import ReachResult

NOT_CHECKED = "not checked: it cannot be checked without sending a message (try gunwatch alert test)"


def reach_channels(configs: dict[str, BaseChannelConfig]) -> list[ReachResult]:
    """Each channel's result, in the order given."""
    results: dict[str, ReachResult] = {}
    threads = [threading.Thread(target=lambda n=name, c=config: results.__setitem__(n, reach_channel(n, c)),
                                name=f"reach-{name}", daemon=True) for name, config in configs.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()  # each check gives up within its channel's timeout_s
    return [results[name] for name in configs]


def reach_channel(name: str, config: BaseChannelConfig) -> ReachResult:
    # The path of an incoming webhook is often its secret: only the scheme, host and port are shown.
    target = endpoint_only(config.url) if config.kind == "webhook" else redact_url(config.url)
    try:
        channel = ADAPTERS[config.kind](name, config)
    except ValueError as error:
        return ReachResult("channel", name, target, False, f"cannot be set up: {error}")
    try:
        done = channel.reach()
    except DeliveryError as error:
        return ReachResult("channel", name, target, False, error.reason)
    except Exception as error:  # an adapter's bug is this channel's result, not the end of the check
        return ReachResult("channel", name, target, False, f"internal error: {type(error).__name__}: {error}")
    finally:
        channel.close()
    if done is None:
        return ReachResult("channel", name, target, None, NOT_CHECKED)
    return ReachResult("channel", name, target, True, done)
