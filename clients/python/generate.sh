#!/usr/bin/env sh
# Generates the Python messages and gRPC stubs from proto/ into $1 (default clients/python/gen),
# with Debian's protoc and grpc_python_plugin (packages protobuf-compiler, protobuf-compiler-grpc).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-"$root/clients/python/gen"}
mkdir -p "$out"
protoc -I "$root/proto" \
  --python_out="$out" \
  --grpc_python_out="$out" --plugin=protoc-gen-grpc_python="$(command -v grpc_python_plugin)" \
  "$root"/proto/realtime/v1/*.proto
