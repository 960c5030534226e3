"""Shared test setup.

The ``mqtt_broker`` fixture (a real mosquitto on a free loopback port that tests can stop,
kill, pause and restart) comes from the ``mqttwire.testing.pytest_plugin`` plugin, which the
package registers as a pytest entry point; the suite uses it exactly as a service author would.
"""
