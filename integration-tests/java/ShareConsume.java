// Apache Kafka's KafkaShareConsumer (implicit acknowledgement) as a member of a share
// group, for integration-tests/tests/share_consumer.rs. Prints one line per record,
// "R <offset> <value> <deliveryCount>", then "DONE".
// Args: bootstrap group topic idleMs maxMs
import java.time.Duration;
import java.util.List;
import java.util.Properties;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaShareConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;

public class ShareConsume {
    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", args[0]);
        p.put("group.id", args[1]);
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", StringDeserializer.class.getName());
        p.put("max.poll.records", "100");
        long idleMs = Long.parseLong(args[3]);
        long maxMs = Long.parseLong(args[4]);
        long start = System.currentTimeMillis();
        long lastSeen = start;
        boolean seen = false;
        try (KafkaShareConsumer<String, String> c = new KafkaShareConsumer<>(p)) {
            c.subscribe(List.of(args[2]));
            while (true) {
                long now = System.currentTimeMillis();
                if (now - start > maxMs || (seen && now - lastSeen > idleMs)) break;
                ConsumerRecords<String, String> records = c.poll(Duration.ofMillis(200));
                for (ConsumerRecord<String, String> r : records) {
                    String count = r.deliveryCount().map(String::valueOf).orElse("?");
                    System.out.println("R " + r.offset() + " " + r.value() + " " + count);
                    seen = true;
                    lastSeen = System.currentTimeMillis();
                }
                System.out.flush();
            }
            c.commitSync();
        }
        System.out.println("DONE");
    }
}
