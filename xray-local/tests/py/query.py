"""Queries xray-local with boto3's X-Ray client, as a user would query AWS.

usage: query.py ENDPOINT_URL '{"ids": [...]}'
Prints one JSON object with what each call returned (parsed by botocore), for
xray-local/tests/clients.rs to check.
"""

import datetime
import json
import sys

import boto3
from botocore.exceptions import ClientError

endpoint, args = sys.argv[1], json.loads(sys.argv[2])
xray = boto3.client(
    "xray",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="testing",
    aws_secret_access_key="testing",
)
now = datetime.datetime.now(datetime.timezone.utc)
window = {"StartTime": now - datetime.timedelta(hours=1), "EndTime": now + datetime.timedelta(minutes=1)}


def summaries(expression):
    answer = xray.get_trace_summaries(FilterExpression=expression, **window)
    return [s["Id"] for s in answer["TraceSummaries"]]


out = {"filters": {}}
for expression in args["filters"]:
    out["filters"][expression] = summaries(expression)

every = []
for page in xray.get_paginator("get_trace_summaries").paginate(**window):
    for s in page["TraceSummaries"]:
        every.append(
            {
                "Id": s["Id"],
                "StartTime": s["StartTime"].timestamp(),
                "Duration": s["Duration"],
                "HasError": s["HasError"],
                "Http": s.get("Http", {}),
                "Annotations": {
                    k: [v["AnnotationValue"] for v in values] for k, values in s.get("Annotations", {}).items()
                },
                "ServiceIds": sorted(i["Name"] for i in s["ServiceIds"]),
            }
        )
out["summaries"] = every

traces = xray.batch_get_traces(TraceIds=args["ids"])
out["unprocessed"] = traces["UnprocessedTraceIds"]
out["traces"] = {}
for trace in traces["Traces"]:
    docs = [json.loads(s["Document"]) for s in trace["Segments"]]
    out["traces"][trace["Id"]] = [
        {"name": d["name"], "subsegments": [c["name"] for c in d.get("subsegments", [])]} for d in docs
    ]

graph = xray.get_service_graph(**window)
services = graph["Services"]
by_ref = {s["ReferenceId"]: s["Name"] for s in services}
out["graph"] = {
    s["Name"]: {
        "type": s.get("Type"),
        "total": s["SummaryStatistics"]["TotalCount"],
        "edges": sorted(by_ref[e["ReferenceId"]] for e in s["Edges"]),
        "histogram_count": sum(h["Count"] for h in s["ResponseTimeHistogram"]),
    }
    for s in services
}

rules = xray.get_sampling_rules()
out["rules"] = [r["SamplingRule"]["RuleName"] for r in rules["SamplingRuleRecords"]]

try:
    xray.get_trace_summaries(FilterExpression="ok AND", **window)
    out["bad_filter"] = None
except ClientError as e:
    out["bad_filter"] = {"code": e.response["Error"]["Code"], "message": e.response["Error"]["Message"]}

print(json.dumps(out))
