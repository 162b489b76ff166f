"""The soak's independent reader (integration-tests/tests/soak.rs): confluent-kafka
(librdkafka), not the SDK under test, reads a whole topic from the beginning to the end
of every partition and prints one tab-separated line per record:

    partition<TAB>offset<TAB>value

then "END <records>". ISOLATION is read_committed or read_uncommitted. It reads with
assigned partitions (no group) and stops once every partition reported its end
(enable.partition.eof) at or past the high watermark taken at the start; it exits 1
after TIMEOUT seconds without getting there.

    python soak_reader.py <bootstrap> <topic> <isolation> <partitions> <timeout-seconds>
"""

import sys
import time

from confluent_kafka import Consumer, KafkaError, TopicPartition, OFFSET_BEGINNING


def main():
    bootstrap, topic, isolation, partitions, timeout = sys.argv[1:6]
    partitions = int(partitions)
    deadline = time.monotonic() + float(timeout)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "soak-independent-reader",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": isolation,
            "auto.offset.reset": "earliest",
        }
    )
    ends = {}
    for p in range(partitions):
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
        ends[p] = high
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    # Next offset to read per partition, and partitions that reported their end.
    nxt = {p: 0 for p in range(partitions)}
    at_end = set()
    out = sys.stdout
    n = 0
    while len(at_end) < partitions:
        if time.monotonic() > deadline:
            sys.stderr.write(f"timeout: at {nxt}, ends {ends}, at end {sorted(at_end)}\n")
            sys.exit(1)
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        err = msg.error()
        if err is not None:
            if err.code() == KafkaError._PARTITION_EOF:
                p = msg.partition()
                # read_committed stops at the last stable offset, and a commit marker
                # after the last record leaves the position one short of the high
                # watermark: the end librdkafka reports is the end.
                if msg.offset() >= ends[p] or isolation == "read_committed":
                    at_end.add(p)
                continue
            sys.stderr.write(f"error: {err}\n")
            continue
        p = msg.partition()
        nxt[p] = msg.offset() + 1
        value = msg.value().decode("utf-8") if msg.value() is not None else ""
        out.write(f"{p}\t{msg.offset()}\t{value}\n")
        n += 1
    out.write(f"END {n}\n")
    out.flush()
    consumer.close()


if __name__ == "__main__":
    main()
