"""Produces keyed records with librdkafka (confluent-kafka) for the partitioner parity
test: reads lines `<partitioner> <index> <key>` (the key in hex, `-` for a null key, `=` for an empty one) from stdin,
produces each record (value `<partitioner>:<index>`) with a producer configured with
that `partitioner`, and prints `<partitioner> <index> <partition>` from each delivery
report. Exits non-zero if any delivery failed.

usage: partitioner_parity.py <bootstrap> <topic>
"""
import sys

from confluent_kafka import Producer


def main():
    bootstrap, topic = sys.argv[1], sys.argv[2]
    by_partitioner = {}
    for line in sys.stdin:
        name, index, key = line.split()
        by_partitioner.setdefault(name, []).append(
            (int(index), None if key == "-" else b"" if key == "=" else bytes.fromhex(key))
        )
    failures = []
    out = []
    for name, records in by_partitioner.items():
        producer = Producer({
            "bootstrap.servers": bootstrap,
            "partitioner": name,
            "linger.ms": 20,
            "queue.buffering.max.messages": 1000000,
        })

        def report(err, msg, name=name):
            index = int(msg.value().decode().split(":")[1])
            if err is not None:
                failures.append(f"{name} {index}: {err}")
            else:
                out.append(f"{name} {index} {msg.partition()}")

        for index, key in records:
            producer.produce(topic, key=key, value=f"{name}:{index}".encode(), on_delivery=report)
            producer.poll(0)
        left = producer.flush(60)
        if left:
            failures.append(f"{name}: {left} records not delivered in 60 s")
    sys.stdout.write("\n".join(out) + "\n")
    if failures:
        sys.stderr.write("\n".join(failures[:20]) + "\n")
        sys.exit(1)


main()
