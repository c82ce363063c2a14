# Parses Prometheus text exposition from stdin with the Prometheus project's own Python
# client (Debian's python3-prometheus-client) and prints every sample as JSON, one list.
# A malformed line raises, so the process exits non-zero.
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families

samples = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for sample in family.samples:
        samples.append(
            {
                "family": family.name,
                "type": family.type,
                "name": sample.name,
                "labels": sample.labels,
                # JSON has no NaN or infinities: those become their text.
                "value": sample.value if math.isfinite(sample.value) else str(sample.value),
            }
        )
print(json.dumps(samples))
