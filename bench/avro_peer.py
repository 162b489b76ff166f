"""The Python side of `kafka-bench avro`: 1 KiB Avro records through the schema registry
with confluent-kafka's AvroSerializer / AvroDeserializer, or with fastavro's schemaless
writer / reader and the 5-byte prefix written by hand, produced and consumed with
confluent-kafka (librdkafka) on the same broker as ours.

  python avro_peer.py MODE URL BOOTSTRAP TOPIC RECORDS BODY_LEN SCHEMA_FILE
  MODE: produce-confluent | consume-confluent | produce-fastavro | consume-fastavro

Records are built before the clock starts, by the same formula as bench/src/avro_serde.rs.
Prints one JSON line: {"records": N, "secs": S}.
"""
import io
import json
import struct
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.serialization import MessageField, SerializationContext

WORDS = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "


def record(i, body_len):
    body = (WORDS * (body_len // len(WORDS) + 1))[:body_len]
    return dict(
        id=i,
        customer=f"customer-{i % 1000:04}",
        amount=i * 0.5,
        note=None if i % 2 else "fragile",
        tags=["a", "b", "c"],
        body=body,
    )


# The same producer settings as ours in the benchmark (acks=all, linger 5 ms, 1 MiB
# batches, 32 MiB of buffer, no idempotence, no compression).
PRODUCER = {
    "acks": "all",
    "linger.ms": 5,
    "batch.size": 1048576,
    "batch.num.messages": 1000000,
    "message.max.bytes": 2097152,
    "queue.buffering.max.kbytes": 32768,
    "queue.buffering.max.messages": 10000000,
    "max.in.flight": 5,
    "enable.idempotence": False,
    "compression.codec": "none",
}


def produce(bootstrap, topic, values, encode):
    producer = Producer(dict(PRODUCER, **{"bootstrap.servers": bootstrap}))
    # One record outside the clock: metadata and the connection, as ours does.
    producer.produce(topic, value=encode(values[0]), partition=0)
    producer.flush(60)
    start = time.perf_counter()
    for value in values:
        while True:
            try:
                producer.produce(topic, value=encode(value), partition=0)
                break
            except BufferError:
                producer.poll(0.001)
        producer.poll(0)
    if producer.flush(120) != 0:
        raise SystemExit("records not delivered")
    return time.perf_counter() - start


def consume(bootstrap, topic, count, decode):
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "bench-avro-peer",
            "enable.auto.commit": False,
            "queued.max.messages.kbytes": 32768,
        }
    )
    start = time.perf_counter()
    consumer.assign([TopicPartition(topic, 0, 0)])
    n = 0
    while n < count:
        for msg in consumer.consume(num_messages=10000, timeout=10.0):
            if msg.error():
                raise SystemExit(f"consumer error {msg.error()}")
            decode(msg.value())
            n += 1
    secs = time.perf_counter() - start
    consumer.close()
    return secs


def main(argv):
    mode, url, bootstrap, topic = argv[1:5]
    records, body_len = int(argv[5]), int(argv[6])
    with open(argv[7]) as f:
        schema_text = f.read()
    client = SchemaRegistryClient({"url": url})
    ctx = SerializationContext(topic, MessageField.VALUE)
    kind, lib = mode.split("-")
    if lib == "confluent":
        from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer

        ser = AvroSerializer(client, schema_text)
        de = AvroDeserializer(client)
        encode = lambda v: ser(v, ctx)  # noqa: E731
        decode = lambda b: de(b, ctx)  # noqa: E731
    else:
        import fastavro
        from confluent_kafka.schema_registry import Schema

        parsed = fastavro.parse_schema(json.loads(schema_text))
        schema_id = client.register_schema(f"{topic}-value", Schema(schema_text, "AVRO"))
        prefix = struct.pack(">bI", 0, schema_id)

        def encode(v):
            out = io.BytesIO()
            out.write(prefix)
            fastavro.schemaless_writer(out, parsed, v)
            return out.getvalue()

        def decode(b):
            if b[0] != 0:
                raise SystemExit("not framed")
            return fastavro.schemaless_reader(io.BytesIO(b[5:]), parsed)

    if kind == "produce":
        values = [record(i, body_len) for i in range(records)]
        secs = produce(bootstrap, topic, values, encode)
    else:
        secs = consume(bootstrap, topic, records, decode)
    print(json.dumps({"records": records, "secs": secs}))


if __name__ == "__main__":
    main(sys.argv)
