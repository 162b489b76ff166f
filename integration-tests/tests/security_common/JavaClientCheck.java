// The reference Java client (kafka-clients, on the test broker's classpath) as an
// independent peer for the security tests: produces j1, j2, j3 to partition 0 of a topic
// and reads them back, with the security properties given in a file. Run with the JDK's
// source launcher: java -cp <broker classpath> JavaClientCheck.java <props> <topic>
import java.io.FileReader;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class JavaClientCheck {
    public static void main(String[] args) throws Exception {
        Properties base = new Properties();
        try (FileReader r = new FileReader(args[0])) {
            base.load(r);
        }
        String topic = args[1];
        Properties pp = new Properties();
        pp.putAll(base);
        pp.put("key.serializer", StringSerializer.class.getName());
        pp.put("value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(pp)) {
            for (int i = 1; i <= 3; i++) {
                producer.send(new ProducerRecord<>(topic, 0, null, "j" + i)).get();
            }
        }
        Properties cp = new Properties();
        cp.putAll(base);
        cp.put("key.deserializer", StringDeserializer.class.getName());
        cp.put("value.deserializer", StringDeserializer.class.getName());
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(cp)) {
            TopicPartition tp = new TopicPartition(topic, 0);
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            List<String> got = new ArrayList<>();
            long deadline = System.currentTimeMillis() + 20_000;
            while (got.size() < 3 && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> rec : consumer.poll(Duration.ofMillis(500))) {
                    got.add(rec.value());
                }
            }
            System.out.println("VALUES=" + String.join(",", got));
        }
    }
}
