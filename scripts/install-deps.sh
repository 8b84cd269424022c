#!/usr/bin/env bash
# Installs the Debian packages Ferry's tests need: qemu-img (build and check real disk images), PostgreSQL
# (the scale-out metadata store), genisoimage (ISO test images), the stock OpenStack and Glance command
# line clients (compatibility tests), zsh (checks the CLI's zsh completion), curl (the benchmark's
# download client), Chromium (the console's browser tests, driven by playwright-core), openssl (the CA and
# certificates of the tests of regions over HTTPS) and OpenStack Swift with memcached (a real S3 server for the
# S3 blob driver's tests, scripts/start-test-s3.sh), e2fsprogs and util-linux (mkfs.ext4, mount, fallocate: the
# small file system of the disk-full test). Run as root on Debian.
set -euo pipefail
packages=(qemu-utils e2fsprogs util-linux postgresql genisoimage python3-openstackclient python3-glanceclient zsh curl chromium openssl
  swift swift-proxy swift-object swift-container swift-account python3-swift memcached)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "system packages ready: ${packages[*]}"
