#!/usr/bin/env python3
"""Publishes one message through the hub's gRPC API and prints the result as JSON.

Usage: publish.py ADDR CHANNEL JSON_DATA [API_KEY]
Run clients/python/generate.sh first and put its output on PYTHONPATH.
"""
import json
import sys

import grpc
from realtime.v1 import hub_pb2, hub_pb2_grpc


def main() -> None:
    addr, channel, data = sys.argv[1:4]
    api_key = sys.argv[4] if len(sys.argv) > 4 else ""
    metadata = [("authorization", f"apikey {api_key}")] if api_key else []
    with grpc.insecure_channel(addr) as chan:
        stub = hub_pb2_grpc.HubServiceStub(chan)
        try:
            res = stub.Publish(
                hub_pb2.PublishRequest(channel=channel, data=data.encode(), tags={"via": "python"}),
                metadata=metadata,
                timeout=10,
            )
        except grpc.RpcError as err:
            print(json.dumps({"code": err.code().name, "details": err.details()}))
            sys.exit(3)
        stats = stub.PresenceStats(hub_pb2.PresenceStatsRequest(channel=channel), metadata=metadata, timeout=10)
    print(json.dumps({"offset": str(res.offset), "epoch": res.epoch, "numClients": stats.num_clients}))


main()
