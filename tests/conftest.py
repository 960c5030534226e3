"""Shared test setup.

The ``mqtt_broker`` fixture (a real mosquitto on a free loopback port that tests can stop,
kill, pause and restart) comes from the ``mqttwire.testing.pytest_plugin`` plugin, which the
package registers as a pytest entry point; the suite uses it exactly as a service author would.
"""

from hypothesis import HealthCheck, settings

# Property tests check behaviour, not speed: on a loaded 2-core CI machine input generation and
# single examples can be slow, which must not fail a test (timing goals live in benchmarks/).
settings.register_profile(
    "mqttwire",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("mqttwire")
