// A Java member for `kafka-bench rebalance`: Apache Kafka's own KafkaConsumer
// (kafka-clients from the test bed's broker classpath). It is built at start-up, then
// waits for a line "join" on stdin before it subscribes (so the JVM's start-up is not
// timed), and prints, tab-separated, one line per listener call (ASSIGNED / REVOKED /
// LOST and the partitions, comma-separated) and one line per poll that returned records
// (REC and the partitions of that poll). "stop" (or stdin closing) closes it; then CLOSED.
//   java -cp <broker classpath> RebalanceMember.java <bootstrap> <topic> <group> <mode>
// mode: eager (classic, range), cooperative (classic, cooperative-sticky) or consumer
// (KIP-848, the broker's default assignor).
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Properties;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public class RebalanceMember {
    static synchronized void say(String line) {
        System.out.println(line);
        System.out.flush();
    }

    static String parts(Collection<TopicPartition> ps) {
        return ps.stream().map(tp -> Integer.toString(tp.partition())).sorted().collect(Collectors.joining(","));
    }

    public static void main(String[] args) throws Exception {
        String mode = args[3];
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(ConsumerConfig.GROUP_ID_CONFIG, args[2]);
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "true");
        props.put(ConsumerConfig.AUTO_COMMIT_INTERVAL_MS_CONFIG, "1000");
        props.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "500");
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        if (mode.equals("consumer")) {
            props.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "consumer");
        } else {
            props.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
            props.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "10000");
            props.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "1000");
            props.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, mode.equals("eager")
                ? "org.apache.kafka.clients.consumer.RangeAssignor"
                : "org.apache.kafka.clients.consumer.CooperativeStickyAssignor");
        }
        AtomicBoolean stop = new AtomicBoolean(false);
        CountDownLatch join = new CountDownLatch(1);
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in))) {
                String line;
                while ((line = in.readLine()) != null && !line.trim().equals("stop")) {
                    if (line.trim().equals("join")) {
                        join.countDown();
                    }
                }
            } catch (Exception e) {
                // stdin closed: stop too
            }
            stop.set(true);
            join.countDown();
        });
        reader.setDaemon(true);
        reader.start();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
            say("READY");
            join.await();
            if (!stop.get()) {
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
            }
            while (!stop.get()) {
                ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(200));
                if (!records.isEmpty()) {
                    TreeSet<Integer> ps = new TreeSet<>();
                    for (ConsumerRecord<byte[], byte[]> r : records) {
                        ps.add(r.partition());
                    }
                    say("REC\t" + ps.stream().map(String::valueOf).collect(Collectors.joining(",")));
                }
            }
        }
        say("CLOSED");
    }
}
