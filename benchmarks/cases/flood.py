"""A paho publisher process that floods one topic: `python -m cases.flood URL TOPIC N QOS HEX`.

Receive cases start it so the publisher never shares a GIL with the subscriber measured.
"""

from __future__ import annotations

import sys

from cases.paho_pub import PahoPublisher


def main(argv: list[str]) -> int:
    url, topic, count, qos, data = argv[1], argv[2], int(argv[3]), int(argv[4]), argv[5]
    publisher = PahoPublisher(url, window=100)
    try:
        publisher.publish_many(topic, bytes.fromhex(data), count, qos=qos)
    finally:
        publisher.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
