"""Drop-in modules with the APIs of the MQTT clients services used before mqttwire.

* :mod:`mqttwire.compat.tars`: py-tars' ``tars.adapters.mqtt_client`` (switch the import, keep
  the service code; see docs/migration.md, "Step 1: switch imports").

Nothing here is imported by ``import mqttwire``.
"""
