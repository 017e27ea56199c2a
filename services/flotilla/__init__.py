"""Flotilla's shared package: settings, the service runner, NATS names, the wire contract and
the local servers that every service and test builds on."""

__version__ = "0.1.0"
