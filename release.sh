#!/usr/bin/env bash
# Builds a release: the application and nothing else (README, "Deploy a release").
# No .git, tests/, bench/ or demo (app/cli/demo.py: demo accounts share one printed
# password, so a production server must not even have the command; ASVS 15.2.3).
#   ./release.sh [OUTPUT.tar.gz]      (from a tagged commit; builds HEAD)
set -euo pipefail
cd "$(dirname "$0")"
out=${1:-ruta-$(git describe --always).tar.gz}
git archive --format=tar.gz -o "$out" HEAD -- \
    app migrations config.py wsgi.py requirements.txt requirements.lock \
    ':(exclude)app/cli/demo.py'
echo "$out"
