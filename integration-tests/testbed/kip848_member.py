"""A librdkafka member of a KIP-848 consumer group for the mixed-group tests:
confluent-kafka's Consumer with group.protocol=consumer subscribes to a topic and
prints, tab-separated, one line per listener call (ASSIGNED/REVOKED/LOST and
partitions, comma-separated) and per record (REC, partition, offset, value), the
same lines as java/Kip848Member.java. It stops when a line "stop" arrives on stdin
(or stdin closes): close() commits what was consumed and leaves; then CLOSED.

    python kip848_member.py <bootstrap> <topic> <group>
"""

import sys
import threading

from confluent_kafka import Consumer, KafkaException

lock = threading.Lock()
stop = threading.Event()


def say(line):
    with lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def parts(ps):
    return ",".join(str(p) for p in sorted(tp.partition for tp in ps))


def wait_for_stop():
    for line in sys.stdin:
        if line.strip() == "stop":
            break
    stop.set()


def main():
    bootstrap, topic, group = sys.argv[1:4]
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "group.protocol": "consumer",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": True,
            "auto.commit.interval.ms": 500,
        }
    )
    c.subscribe(
        [topic],
        on_assign=lambda _c, ps: say("ASSIGNED\t" + parts(ps)),
        on_revoke=lambda _c, ps: say("REVOKED\t" + parts(ps)),
        on_lost=lambda _c, ps: say("LOST\t" + parts(ps)),
    )
    threading.Thread(target=wait_for_stop, daemon=True).start()
    while not stop.is_set():
        msgs = c.consume(num_messages=500, timeout=0.2)
        out = []
        for m in msgs:
            if m.error():
                raise KafkaException(m.error())
            out.append(
                "REC\t%d\t%d\t%s" % (m.partition(), m.offset(), m.value().decode())
            )
        if out:
            with lock:
                sys.stdout.write("\n".join(out) + "\n")
                sys.stdout.flush()
    c.close()
    say("CLOSED")


if __name__ == "__main__":
    main()
