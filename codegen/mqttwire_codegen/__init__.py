"""mqttwire_codegen: AsyncAPI contracts -> typed Python MQTT client packages."""

__version__ = "0.1.0"
