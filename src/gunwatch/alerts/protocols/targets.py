"""Who a step reaches: recipients and groups expanded, each on the channels listed."""

from __future__ import annotations

from dataclasses import dataclass, field

from gunwatch.config.alerts import AlertSettings


@dataclass(frozen=True)
class Target:
    """One message to send: on `channel`, to `recipient` at `address` (None: the channel's one destination)."""

    channel: str
    recipient: str | None  # the recipient's key (several, comma-separated, for a single-destination channel)
    address: str | None
    label: str | None = field(default=None, compare=False)  # how messages name them: `name`, else the key


def expand(settings: AlertSettings, to: list[str]) -> list[str]:
    """Recipient names, groups expanded, each once, in the order written."""
    names: list[str] = []
    for target in to:
        members = settings.groups[target.removeprefix("group:")] if target.startswith("group:") else [target]
        names += [name for name in members if name not in names]
    return names


def targets(settings: AlertSettings, to: list[str], via: list[str]) -> tuple[list[Target], list[str]]:
    """Every (channel, recipient) the step reaches, and the pairs it cannot (a recipient with no address on
    a channel that needs one) as readable notes for the audit log."""
    recipients = expand(settings, to)
    found: list[Target] = []
    missing: list[str] = []
    for channel in via:
        config = settings.channels[channel]
        if not config.needs_address:
            # One destination (a webhook, a broker, a file): one message, naming who the step is for.
            labels = ", ".join(_label(settings, name) for name in recipients)
            found.append(Target(channel, ",".join(recipients) if recipients else None, None, labels or None))
            continue
        for name in recipients:
            address = settings.recipients[name].addresses.get(channel)
            if address:
                found.append(Target(channel, name, address, _label(settings, name)))
            else:
                missing.append(f"{name} has no address on {channel}")
    return found, missing


def _label(settings: AlertSettings, name: str) -> str:
    return settings.recipients[name].name or name
