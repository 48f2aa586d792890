#!/usr/bin/env bash
# Regenerates the README's screenshots: the first screen (1400×1000) of the
# fit report (the study's released data) and of the count report (the
# bundled shards, `make run`), in headless Chromium.
#
#   bash docs/screenshots.sh      (or: make screenshots)
set -euo pipefail
cd "$(dirname "$0")/.."
make -s browser
out=out/screenshots
go run ./pipelines/count --output="$out/count" --overwrite >/dev/null
go run ./pipelines/fit --paper=../shared/data/paper --output="$out/fit" --overwrite >/dev/null
shot() {
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,1000 \
    --virtual-time-budget=5000 --screenshot="$PWD/$2" "file://$PWD/$1" 2>/dev/null
  echo "wrote $2"
}
shot "$out/fit/report.html" docs/img/fit-report.png
shot "$out/count/report.html" docs/img/count-report.png
