"""Test support that services do not need, so it stays out of the ``mqttwire`` wheel.

* :mod:`support.acl`: Mosquitto's dynamic security plugin set up to refuse some topics.
* :mod:`support.brokers`: NATS (and NATS clusters), RabbitMQ and amqtt broker processes for the
  interoperability and failover tests.

``tests/`` is on ``sys.path`` during a test run (pytest's rootdir conftest), so tests import
``support.acl`` and ``support.brokers``; scripts outside ``tests/`` (benchmarks) add it first.
"""
