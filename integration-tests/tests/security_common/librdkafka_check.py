"""librdkafka (confluent-kafka from PyPI, a recent bundled librdkafka) as an
independent peer: produces three records to TOPIC with the settings in PROPS (a
`key=value` file) and reads them back; prints `VALUES=l1,l2,l3`. Exit 1 with the
client's error otherwise. Usage: librdkafka_check.py PROPS TOPIC"""
import sys

from confluent_kafka import Consumer, KafkaException, Producer


def main():
    props_file, topic = sys.argv[1], sys.argv[2]
    conf = {}
    with open(props_file) as f:
        for line in f:
            line = line.rstrip("\n")
            if line and "=" in line:
                k, v = line.split("=", 1)
                conf[k] = v
    errors = []
    conf_p = dict(conf)
    conf_p["error_cb"] = lambda e: errors.append(str(e))
    producer = Producer(conf_p)
    for v in ("l1", "l2", "l3"):
        producer.produce(topic, value=v.encode())
    left = producer.flush(20)
    if left:
        sys.exit(f"produce: {left} records not delivered; errors: {errors}")
    conf_c = dict(conf)
    conf_c.update({"group.id": f"{topic}-check", "auto.offset.reset": "earliest"})
    consumer = Consumer(conf_c)
    consumer.subscribe([topic])
    values = []
    for _ in range(200):
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error():
            raise KafkaException(msg.error())
        values.append(msg.value().decode())
        if len(values) == 3:
            break
    consumer.close()
    print("VALUES=" + ",".join(values))
    if values != ["l1", "l2", "l3"]:
        sys.exit(f"read {values}; errors: {errors}")


main()
