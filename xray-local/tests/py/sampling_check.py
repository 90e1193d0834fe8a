"""The official X-Ray SDK for Python's centralized-sampling connector against xray-local.

usage: sampling_check.py HOST PORT
Fetches the rules and one round of targets through the daemon's proxy API, as the SDK's
pollers do, matches two requests against the fetched rules, and prints one JSON object for
xray-local/tests/clients.rs to check.
"""

import json
import sys
import time

from aws_xray_sdk.core.sampling.connector import ServiceConnector
from aws_xray_sdk.core.sampling.rule_cache import RuleCache

host, port = sys.argv[1], sys.argv[2]
connector = ServiceConnector()
connector.setup_xray_client(host, port, None)

rules = connector.fetch_sampling_rules()
out = {"rules": [{"name": r.name, "rate": r.rate, "can_borrow": r.can_borrow, "priority": r.priority} for r in rules]}

now = int(time.time())
cache = RuleCache()
cache.load_rules(rules)
cache.last_updated = now
for rule in rules:
    rule.increment_request_count()
targets, last_modified = connector.fetch_sampling_target(rules)
out["targets"] = targets
out["last_modified"] = last_modified

match = lambda req: (cache.get_matched_rule(req, now) or None) and cache.get_matched_rule(req, now).name
out["matched"] = {
    "py-orders": match({"service": "py-orders", "host": "x", "method": "GET", "path": "/", "service_type": ""}),
    "other": match({"service": "other", "host": "x", "method": "GET", "path": "/", "service_type": ""}),
}
print(json.dumps(out))
