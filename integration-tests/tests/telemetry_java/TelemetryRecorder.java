// A broker-side client-telemetry receiver for the KIP-714 test (tests/telemetry.rs):
// listed in `metric.reporters`, it decodes every PushTelemetry payload with the OTLP
// classes the broker itself uses and appends what it got to `telemetry.recorder.file`:
//   push client=<client id> instance=<client instance id> terminating=<bool> type=<content type>
//   metric client=<client id> name=<metric> value=<int or double value> temporality=<DELTA|CUMULATIVE|GAUGE> attrs=<k:v,... or ->
// (one metric line per data point)
import java.io.FileWriter;
import java.io.IOException;
import java.util.List;
import java.util.Map;

import org.apache.kafka.common.metrics.KafkaMetric;
import org.apache.kafka.common.metrics.MetricsReporter;
import org.apache.kafka.server.telemetry.ClientTelemetry;
import org.apache.kafka.server.telemetry.ClientTelemetryReceiver;
import org.apache.kafka.shaded.io.opentelemetry.proto.common.v1.KeyValue;
import org.apache.kafka.shaded.io.opentelemetry.proto.metrics.v1.Metric;
import org.apache.kafka.shaded.io.opentelemetry.proto.metrics.v1.MetricsData;
import org.apache.kafka.shaded.io.opentelemetry.proto.metrics.v1.NumberDataPoint;
import org.apache.kafka.shaded.io.opentelemetry.proto.metrics.v1.ResourceMetrics;
import org.apache.kafka.shaded.io.opentelemetry.proto.metrics.v1.ScopeMetrics;

public class TelemetryRecorder implements MetricsReporter, ClientTelemetry {
    private volatile String file;

    @Override
    public void configure(Map<String, ?> configs) {
        Object f = configs.get("telemetry.recorder.file");
        file = f == null ? null : f.toString();
    }

    @Override
    public void init(List<KafkaMetric> metrics) {}

    @Override
    public void metricChange(KafkaMetric metric) {}

    @Override
    public void metricRemoval(KafkaMetric metric) {}

    @Override
    public void close() {}

    private synchronized void append(String text) {
        if (file == null) return;
        try (FileWriter w = new FileWriter(file, true)) {
            w.write(text);
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    @Override
    public ClientTelemetryReceiver clientReceiver() {
        return (context, payload) -> {
            String client = context.clientId();
            StringBuilder out = new StringBuilder();
            out.append("push client=").append(client)
                .append(" instance=").append(payload.clientInstanceId())
                .append(" terminating=").append(payload.isTerminating())
                .append(" type=").append(payload.contentType()).append('\n');
            try {
                MetricsData data = MetricsData.parseFrom(payload.data().duplicate());
                for (ResourceMetrics rm : data.getResourceMetricsList()) {
                    for (ScopeMetrics sm : rm.getScopeMetricsList()) {
                        for (Metric m : sm.getMetricsList()) {
                            List<NumberDataPoint> points;
                            String temporality;
                            if (m.hasSum()) {
                                points = m.getSum().getDataPointsList();
                                temporality = m.getSum().getAggregationTemporality().name();
                            } else if (m.hasGauge()) {
                                points = m.getGauge().getDataPointsList();
                                temporality = "GAUGE";
                            } else {
                                points = List.of();
                                temporality = "OTHER";
                            }
                            for (NumberDataPoint p : points) {
                                String value = p.getValueCase() == NumberDataPoint.ValueCase.AS_DOUBLE
                                    ? Double.toString(p.getAsDouble())
                                    : Long.toString(p.getAsInt());
                                StringBuilder attrs = new StringBuilder();
                                for (KeyValue kv : p.getAttributesList()) {
                                    if (attrs.length() > 0) attrs.append(',');
                                    attrs.append(kv.getKey()).append(':').append(kv.getValue().getStringValue());
                                }
                                out.append("metric client=").append(client)
                                    .append(" name=").append(m.getName())
                                    .append(" value=").append(value)
                                    .append(" temporality=").append(temporality)
                                    .append(" attrs=").append(attrs.length() == 0 ? "-" : attrs)
                                    .append('\n');
                            }
                        }
                    }
                }
            } catch (Exception e) {
                out.append("undecodable client=").append(client).append(' ').append(e).append('\n');
            }
            append(out.toString());
        };
    }
}
