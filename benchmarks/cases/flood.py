"""A paho publisher process that floods one topic: `python -m cases.flood URL TOPIC N QOS HEX`.

Receive cases start it so the publisher never shares a GIL with the subscriber measured.
"""

from __future__ import annotations

import sys
import time

from cases.paho_pub import PahoPublisher


def main(argv: list[str]) -> int:
    url, topic, count, qos, data = argv[1], argv[2], int(argv[3]), int(argv[4]), argv[5]
    publisher = PahoPublisher(url, window=100)
    try:
        start = time.perf_counter()
        publisher.publish_many(topic, bytes.fromhex(data), count, qos=qos)
        seconds = time.perf_counter() - start
    finally:
        publisher.close()
    # The publisher's own rate (first publish to the flush acknowledgement): the ceiling of
    # what any subscriber of the flood can be shown to deliver.
    sys.stdout.write(f"FLOOD-RATE {count / seconds:.1f}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
