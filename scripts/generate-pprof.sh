#!/usr/bin/env bash
# Regenerates Sources/PprofMessages/profile.pb.swift from Sources/PprofMessages/profile.proto. The generated file is
# committed, so ordinary builds need neither protoc nor swift-protobuf's plugin (whose build takes about
# ten minutes): run this only after editing the .proto.
#
# Needs protoc (Debian's protobuf-compiler) and protoc-gen-swift built from the same swift-protobuf
# release the package depends on; the plugin is built once into a scratch folder outside the project.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/.*swift-protobuf", from: "\([0-9.]*\)".*/\1/p' Package.swift)
[ -n "$version" ] || { echo "generate-pprof: no swift-protobuf version in Package.swift" >&2; exit 1; }
command -v protoc >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q protobuf-compiler >&2
plugin_dir=${PROTOC_GEN_SWIFT_DIR:-/tmp/sonde-protoc-gen-swift-$version}
if [ ! -x "$plugin_dir/.build/release/protoc-gen-swift" ]; then
  rm -rf "$plugin_dir"
  git clone -q --branch "$version" https://github.com/apple/swift-protobuf "$plugin_dir"
  swift build -c release --package-path "$plugin_dir" --product protoc-gen-swift >&2
fi
protoc --plugin=protoc-gen-swift="$plugin_dir/.build/release/protoc-gen-swift" \
  --swift_opt=Visibility=Public --swift_out=Sources/PprofMessages -I Sources/PprofMessages Sources/PprofMessages/profile.proto
echo "generate-pprof: wrote Sources/PprofMessages/profile.pb.swift" >&2
