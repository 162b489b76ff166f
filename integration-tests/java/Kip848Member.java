// A Java member of a KIP-848 consumer group for the mixed-group tests: Apache Kafka's
// own KafkaConsumer (kafka-clients from the broker's classpath) with
// group.protocol=consumer subscribes to a topic and prints, tab-separated, one line per
// listener call (ASSIGNED/REVOKED/LOST and partitions, comma-separated) and per record
// (REC, partition, offset, value). It stops when a line "stop" arrives on stdin (or
// stdin closes): close() commits what was polled and leaves the group; then CLOSED.
//   java -cp <broker classpath> Kip848Member.java <bootstrap> <topic> <group>
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

public class Kip848Member {
    static synchronized void say(String line) {
        System.out.println(line);
        System.out.flush();
    }

    static String parts(Collection<TopicPartition> ps) {
        return ps.stream().map(tp -> Integer.toString(tp.partition())).sorted().collect(Collectors.joining(","));
    }

    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(ConsumerConfig.GROUP_ID_CONFIG, args[2]);
        props.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "consumer");
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "true");
        props.put(ConsumerConfig.AUTO_COMMIT_INTERVAL_MS_CONFIG, "500");
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        AtomicBoolean stop = new AtomicBoolean(false);
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in))) {
                String line;
                while ((line = in.readLine()) != null && !line.trim().equals("stop")) {
                }
            } catch (Exception e) {
                // stdin closed: stop too
            }
            stop.set(true);
        });
        reader.setDaemon(true);
        reader.start();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
            consumer.subscribe(List.of(args[1]), new ConsumerRebalanceListener() {
                public void onPartitionsAssigned(Collection<TopicPartition> ps) {
                    say("ASSIGNED\t" + parts(ps));
                }
                public void onPartitionsRevoked(Collection<TopicPartition> ps) {
                    say("REVOKED\t" + parts(ps));
                }
                public void onPartitionsLost(Collection<TopicPartition> ps) {
                    say("LOST\t" + parts(ps));
                }
            });
            while (!stop.get()) {
                StringBuilder out = new StringBuilder();
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    out.append("REC\t").append(r.partition()).append('\t').append(r.offset())
                        .append('\t').append(r.value()).append('\n');
                }
                if (out.length() > 0) {
                    synchronized (Kip848Member.class) {
                        System.out.print(out);
                        System.out.flush();
                    }
                }
            }
        }
        say("CLOSED");
    }
}
