#!/usr/bin/env bash
# Runs its arguments under Node.js 24 LTS, the image's runtime, fetched once from the npm registry into .tools.
set -euo pipefail
cd "$(dirname "$0")/.."
version=24.22.3
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "No Node.js $version package for $(uname -m)" >&2; exit 1 ;;
esac
dir="$PWD/.tools/node-$version"
if [ ! -x "$dir/bin/node" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # npm checks the tarball against the registry's integrity hash.
  npm pack --silent --pack-destination "$tmp" "node-linux-$arch@$version" >/dev/null
  mkdir -p "$tmp/node" && tar xzf "$tmp"/*.tgz -C "$tmp/node" --strip-components=1
  mkdir -p "$(dirname "$dir")" && rm -rf "$dir" && mv "$tmp/node" "$dir"
fi
PATH="$dir/bin:$PATH" exec "$@"
