#!/usr/bin/env python3
"""Starts librdkafka's mock Kafka cluster (Debian package librdkafka1) on loopback ports.

Prints the bootstrap servers on the first line of stdout, then lives until stdin closes.
Commands on stdin (one per line) inject faults: `down <broker_id>` / `up <broker_id>`.
Usage: kafka-mock.py [--brokers N] [--topic NAME:PARTITIONS ...]
The brokers listen on ports the kernel picks; to restart a cluster where a killed one was,
run it with kafka-mock-ports.c LD_PRELOADed and KAFKA_MOCK_PORTS=p1,p2,... (startKafkaMock
in processes.ts does).
"""
import ctypes
import sys

lib = ctypes.CDLL("librdkafka.so.1")
lib.rd_kafka_conf_new.restype = ctypes.c_void_p
lib.rd_kafka_conf_set.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]
lib.rd_kafka_new.restype = ctypes.c_void_p
lib.rd_kafka_new.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
lib.rd_kafka_mock_cluster_new.restype = ctypes.c_void_p
lib.rd_kafka_mock_cluster_new.argtypes = [ctypes.c_void_p, ctypes.c_int]
lib.rd_kafka_mock_cluster_bootstraps.restype = ctypes.c_char_p
lib.rd_kafka_mock_cluster_bootstraps.argtypes = [ctypes.c_void_p]
lib.rd_kafka_mock_topic_create.restype = ctypes.c_int
lib.rd_kafka_mock_topic_create.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
lib.rd_kafka_mock_broker_set_down.argtypes = [ctypes.c_void_p, ctypes.c_int32]
lib.rd_kafka_mock_broker_set_up.argtypes = [ctypes.c_void_p, ctypes.c_int32]


def main() -> None:
    args = sys.argv[1:]
    brokers = 1
    topics = []
    i = 0
    while i < len(args):
        if args[i] == "--brokers":
            brokers = int(args[i + 1])
            i += 2
        elif args[i] == "--topic":
            name, _, parts = args[i + 1].partition(":")
            topics.append((name, int(parts or "1")))
            i += 2
        else:
            sys.exit(f"unknown argument {args[i]}")

    errstr = ctypes.create_string_buffer(512)
    conf = lib.rd_kafka_conf_new()
    # The handle only hosts the mock cluster; it never talks to a real broker.
    lib.rd_kafka_conf_set(conf, b"bootstrap.servers", b"", errstr, 512)
    rk = lib.rd_kafka_new(0, conf, errstr, 512)
    if not rk:
        sys.exit(f"rd_kafka_new failed: {errstr.value.decode()}")
    mc = lib.rd_kafka_mock_cluster_new(rk, brokers)
    if not mc:
        sys.exit("rd_kafka_mock_cluster_new failed")
    for name, parts in topics:
        err = lib.rd_kafka_mock_topic_create(mc, name.encode(), parts, 1)
        if err != 0:
            sys.exit(f"topic {name}: error {err}")
    print(lib.rd_kafka_mock_cluster_bootstraps(mc).decode(), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if len(cmd) == 2 and cmd[0] in ("down", "up"):
            fn = lib.rd_kafka_mock_broker_set_down if cmd[0] == "down" else lib.rd_kafka_mock_broker_set_up
            fn(mc, int(cmd[1]))
            print(f"ok {cmd[0]} {cmd[1]}", flush=True)


main()
