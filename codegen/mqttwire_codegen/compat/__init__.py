"""Compatibility analysis between two versions of a contract (`mqttwire diff`)."""
