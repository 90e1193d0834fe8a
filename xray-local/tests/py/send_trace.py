"""Sends one trace with the official X-Ray SDK for Python to AWS_XRAY_DAEMON_ADDRESS.

Prints {"trace_id": ...} once the segment is sent. Used by xray-local/tests/clients.rs.
"""

import json
import os

from aws_xray_sdk.core import xray_recorder
from aws_xray_sdk.core.models import http

xray_recorder.configure(
    service="py-orders",
    sampling=False,  # record every segment: the test needs this one
    context_missing="LOG_ERROR",
    daemon_address=os.environ["AWS_XRAY_DAEMON_ADDRESS"],
    streaming_threshold=1,  # send finished subsegments on their own, as a busy service would
)

segment = xray_recorder.begin_segment("py-orders")
segment.put_annotation("source", "python")
segment.put_annotation("userId", 7)
segment.put_http_meta(http.URL, "http://orders.local/checkout")
segment.put_http_meta(http.METHOD, "POST")
call = xray_recorder.begin_subsegment("inventory.local", namespace="remote")
call.put_http_meta(http.URL, "http://inventory.local/items")
call.put_http_meta(http.METHOD, "GET")
call.put_http_meta(http.STATUS, 200)
xray_recorder.end_subsegment()
xray_recorder.begin_subsegment("compute-total")
xray_recorder.end_subsegment()
segment.put_http_meta(http.STATUS, 201)
xray_recorder.end_segment()
print(json.dumps({"trace_id": segment.trace_id}))
