"""Confluent's own serializers (confluent-kafka) against the test bed's registry, for the
interop tests in integration-tests/tests/schema_registry_*.rs.

Commands (URL = registry, TOPIC = subject's topic, records are FIXTURES[format]):
  serialize FORMAT URL TOPIC            print each fixture record serialized, one hex line each
  check FORMAT URL TOPIC                read hex lines on stdin, decode each with Confluent's
                                        deserializer, compare with the fixture; print "ok N"
  produce FORMAT URL TOPIC BOOTSTRAP    produce the fixture records to TOPIC partition 0
  consume FORMAT URL TOPIC BOOTSTRAP N  consume N records from TOPIC partition 0 and compare
                                        them with the fixture; print "ok N"
Exit status 1 with a "MISMATCH" line when a record differs.

`serialize-header` and `produce-header` put the schema id in the
`__value_schema_id` header instead (Confluent's header_schema_id_serializer, which writes the
schema's GUID: the schema is registered first, then looked up, since the register answer
may carry no GUID): `serialize-header` prints "HEADERHEX PAYLOADHEX" lines, `check` accepts
such lines (and plain payload lines), and `consume` reads the header when present.
"""
import datetime
import decimal
import json
import os
import sys

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.serialization import MessageField, SerializationContext

HERE = os.path.dirname(os.path.abspath(__file__))
UTC = datetime.timezone.utc


def avro_fixture():
    base = dict(
        id=1,
        customer=dict(name="Ada", email="ada@example.com"),
        status="PAID",
        lines=[dict(sku="tea", qty=2), dict(sku="cake", qty=1)],
        attributes={"channel": "web"},
        note=None,
        payload=b"\x00\x01\xfe\xff",
        total=decimal.Decimal("12.34"),
        created_at=datetime.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
        updated_at=datetime.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        ratio=0.25,
        paid=True,
    )
    second = dict(
        base,
        id=-9000000000,
        customer=dict(name="Bob", email=None),
        status="NEW",
        lines=[],
        attributes={},
        note="leave at the door",
        payload=b"",
        total=decimal.Decimal("-0.05"),
        created_at=datetime.datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
        updated_at=datetime.datetime(2038, 1, 19, 3, 14, 8, 1, tzinfo=UTC),
        ratio=-1.5e300,
        paid=False,
    )
    third = dict(
        base,
        id=3,
        status="SHIPPED",
        total=decimal.Decimal("99999999.99"),
        note="",
    )
    return [base, second, third]


def avro_serdes(client):
    from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer

    with open(os.path.join(HERE, "interop_order.avsc")) as f:
        schema = f.read()
    return AvroSerializer(client, schema), AvroDeserializer(client)


def json_fixture():
    return [
        dict(id=1, item="tea", qty=2, tags=["hot", "green"], note=None),
        dict(id=2, item="caf\u00e9 \u2615 \"quoted\"", qty=1, tags=[], note="x"),
    ]


def json_serdes(client):
    from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer

    with open(os.path.join(HERE, "interop_order.schema.json")) as f:
        schema = f.read()
    return JSONSerializer(schema, client), JSONDeserializer(None, None, client)


def protobuf_classes():
    """shop/customer.proto and shop/order.proto, built as descriptors (no protoc needed)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    F = descriptor_pb2.FieldDescriptorProto
    pool = descriptor_pool.DescriptorPool()

    customer = descriptor_pb2.FileDescriptorProto(
        name="shop/customer.proto", package="shop.v1", syntax="proto3"
    )
    m = customer.message_type.add(name="Customer")
    m.field.add(name="name", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    m.field.add(name="email", number=2, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    pool.Add(customer)

    order = descriptor_pb2.FileDescriptorProto(
        name="shop/order.proto",
        package="shop.v1",
        syntax="proto3",
        dependency=["shop/customer.proto"],
    )
    o = order.message_type.add(name="Order")
    line = o.nested_type.add(name="Line")
    line.field.add(name="sku", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    line.field.add(name="qty", number=2, type=F.TYPE_INT32, label=F.LABEL_OPTIONAL)
    status = o.enum_type.add(name="Status")
    status.value.add(name="NEW", number=0)
    status.value.add(name="PAID", number=1)
    o.field.add(name="id", number=1, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL)
    o.field.add(
        name="customer", number=2, type=F.TYPE_MESSAGE, label=F.LABEL_OPTIONAL,
        type_name=".shop.v1.Customer",
    )
    o.field.add(
        name="lines", number=3, type=F.TYPE_MESSAGE, label=F.LABEL_REPEATED,
        type_name=".shop.v1.Order.Line",
    )
    o.field.add(
        name="status", number=4, type=F.TYPE_ENUM, label=F.LABEL_OPTIONAL,
        type_name=".shop.v1.Order.Status",
    )
    o.field.add(name="payload", number=5, type=F.TYPE_BYTES, label=F.LABEL_OPTIONAL)
    o.field.add(name="total", number=6, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
    pool.Add(order)

    get = message_factory.GetMessageClass
    return (
        get(pool.FindMessageTypeByName("shop.v1.Order")),
        get(pool.FindMessageTypeByName("shop.v1.Order.Line")),
    )


PROTO = {}


def protobuf_fixture():
    if not PROTO:
        PROTO["Order"], PROTO["Line"] = protobuf_classes()
    Order, Line = PROTO["Order"], PROTO["Line"]
    first = Order(
        id=1,
        lines=[Line(sku="tea", qty=2), Line(sku="cake", qty=1)],
        status=1,
        payload=b"\x00\x01\xfe\xff",
        total=12.34,
    )
    first.customer.name = "Ada"
    first.customer.email = "ada@example.com"
    second = Order(id=-9000000000, status=0, total=-0.5)
    second.customer.name = "Bob"
    return [first, second, Line(sku="gift", qty=3)]


def protobuf_serdes(client):
    from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer

    protobuf_fixture()
    serdes = {}
    for name, cls in PROTO.items():
        serdes[cls] = (
            ProtobufSerializer(cls, client, {"use.deprecated.format": False}),
            ProtobufDeserializer(cls, {"use.deprecated.format": False}, client),
        )
    return PerClass(serdes, 0), PerClass(serdes, 1)


class PerClass:
    """Serializes or deserializes each fixture record with its own class's serde."""

    def __init__(self, serdes, which):
        self.serdes, self.which, self.next = serdes, which, 0

    def __call__(self, value, ctx):
        cls = type(protobuf_fixture()[self.next % 3])
        self.next += 1
        return self.serdes[cls][self.which](value, ctx)


FORMATS = {
    "avro": (avro_fixture, avro_serdes),
    "json": (json_fixture, json_serdes),
    "protobuf": (protobuf_fixture, protobuf_serdes),
}


def header_serializer(fmt, url, topic):
    """A serializer writing the GUID header: registers the schema (with a client of its
    own), then looks it up (auto.register.schemas=False), whose answer has the GUID."""
    from confluent_kafka.schema_registry import header_schema_id_serializer
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.schema_registry.json_schema import JSONSerializer

    conf = {"auto.register.schemas": False, "schema.id.serializer": header_schema_id_serializer}
    ctx = SerializationContext(topic, MessageField.VALUE, [])
    if fmt == "avro":
        with open(os.path.join(HERE, "interop_order.avsc")) as f:
            schema = f.read()
        AvroSerializer(SchemaRegistryClient({"url": url}), schema)(avro_fixture()[0], ctx)
        return AvroSerializer(SchemaRegistryClient({"url": url}), schema, conf=conf)
    if fmt == "json":
        with open(os.path.join(HERE, "interop_order.schema.json")) as f:
            schema = f.read()
        JSONSerializer(schema, SchemaRegistryClient({"url": url}))(json_fixture()[0], ctx)
        return JSONSerializer(schema, SchemaRegistryClient({"url": url}), conf=conf)
    if fmt == "protobuf":
        from confluent_kafka.schema_registry.protobuf import ProtobufSerializer

        protobuf_fixture()
        plain = {"use.deprecated.format": False}
        order = PROTO["Order"]
        ProtobufSerializer(order, SchemaRegistryClient({"url": url}), plain)(
            protobuf_fixture()[0], ctx
        )
        serdes = {
            cls: (ProtobufSerializer(cls, SchemaRegistryClient({"url": url}), {**plain, **conf}),)
            for cls in PROTO.values()
        }
        return PerClass(serdes, 0)
    raise SystemExit(f"no header serializer for {fmt}")


def header_of(ctx):
    for key, value in ctx.headers or []:
        if key == "__value_schema_id":
            return value
    return None


def main(argv):
    command, fmt, url, topic = argv[1:5]
    in_header = command.endswith("-header")
    command = command.removesuffix("-header")
    fixture_fn, serdes_fn = FORMATS[fmt]
    fixture = fixture_fn()
    client = SchemaRegistryClient({"url": url})
    ser, de = serdes_fn(client)
    if in_header and command in ("serialize", "produce"):
        ser = header_serializer(fmt, url, topic)

    def ctx(headers=None):
        return SerializationContext(topic, MessageField.VALUE, headers)

    def compare(i, got):
        want = fixture[i]
        if got != want:
            print(f"MISMATCH {i}: got={got!r} want={want!r}")
            sys.exit(1)

    if command == "serialize":
        for record in fixture:
            c = ctx([])
            payload = ser(record, c)
            header = header_of(c)
            print(payload.hex() if header is None else f"{header.hex()} {payload.hex()}")
    elif command == "check":
        lines = [l.split() for l in sys.stdin if l.strip()]
        for i, parts in enumerate(lines):
            if len(parts) == 2:
                headers = [("__value_schema_id", bytes.fromhex(parts[0]))]
                compare(i, de(bytes.fromhex(parts[1]), ctx(headers)))
            else:
                compare(i, de(bytes.fromhex(parts[0]), ctx()))
        if len(lines) != len(fixture):
            print(f"MISMATCH count: got {len(lines)} want {len(fixture)}")
            sys.exit(1)
        print(f"ok {len(lines)}")
    elif command == "produce":
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": argv[5]})
        for record in fixture:
            c = ctx([])
            value = ser(record, c)
            producer.produce(topic, value=value, partition=0, headers=c.headers)
        if producer.flush(30) != 0:
            print("MISMATCH: records not delivered")
            sys.exit(1)
        print(f"ok {len(fixture)}")
    elif command == "consume":
        from confluent_kafka import Consumer, TopicPartition

        count = int(argv[6])
        consumer = Consumer(
            {
                "bootstrap.servers": argv[5],
                "group.id": f"sr-interop-{os.getpid()}",
                "enable.auto.commit": False,
            }
        )
        consumer.assign([TopicPartition(topic, 0, 0)])
        got = []
        deadline = datetime.datetime.now() + datetime.timedelta(seconds=60)
        while len(got) < count and datetime.datetime.now() < deadline:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error():
                print(f"MISMATCH: consumer error {msg.error()}")
                sys.exit(1)
            got.append(de(msg.value(), ctx(msg.headers())))
        consumer.close()
        if len(got) != count:
            print(f"MISMATCH count: got {len(got)} want {count}")
            sys.exit(1)
        for i, value in enumerate(got):
            compare(i, value)
        print(f"ok {count}")
    else:
        print(f"unknown command {command}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv)
