#!/usr/bin/env bash
# Open run pages in a real browser (headless Chromium) and check what it built.
#
#   tools/browser-check.sh [REPORT_DIR [NAME ...]]
#
# REPORT_DIR (default reports/) is what `payfault run` wrote; each NAME
# (default: three library scenarios, a crash in the middle of a refund, a
# partition, duplicated messages) is a run folder in it. For each page:
#   - the DOM Chromium built (--dump-dom) has the sequence diagram
#     (svg#sequence with message arrows), the customer table
#     (table#customer-view) and a balance plot (svg.balance-plot);
#   - the page logged nothing on the console (no script error);
#   - clicking a row of the customer table highlights that transaction's
#     messages in the diagram (the page's script, run by the browser);
#   - a screenshot (1400x2200) is a PNG of more than 20 KB.
# Installs Chromium with apt-get when it is missing. Exits non-zero naming the
# first check that failed.
set -euo pipefail

report_dir=${1:-reports}
shift || true
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  names=(refund-bank-crash-after-posting reversal-outlasts-partition duplicate-sale-messages)
fi

fail() {
  echo "browser check FAILED: $*" >&2
  exit 1
}

browser=""
for candidate in chromium chromium-browser; do
  if command -v "$candidate" >/dev/null; then
    browser=$candidate
    break
  fi
done
if [ -z "$browser" ]; then
  echo "installing chromium (apt-get)"
  sudo=""
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then
    sudo=sudo
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! $sudo apt-get install -y -q chromium >/dev/null 2>&1; then
    $sudo apt-get update -q >/dev/null
    $sudo apt-get install -y -q chromium >/dev/null
  fi
  command -v chromium >/dev/null || fail "chromium is not installed and apt-get could not install it"
  browser=chromium
fi
echo "browser: $("$browser" --version 2>/dev/null | head -1)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Chromium in a container: no sandbox, no GPU, no D-Bus, a home of its own.
run_browser() {
  HOME="$work/home" timeout 90 "$browser" --headless --no-sandbox --disable-gpu \
    --no-first-run --user-data-dir="$work/profile" --enable-logging=stderr --v=0 "$@"
}

for name in "${names[@]}"; do
  page="$report_dir/$name/index.html"
  [ -f "$page" ] || fail "$page does not exist (run \`payfault run\` first)"
  url="file://$(cd "$(dirname "$page")" && pwd)/index.html"

  run_browser --dump-dom "$url" >"$work/$name.dom" 2>"$work/$name.log" ||
    fail "$name: chromium --dump-dom exited $? (log: $(tail -3 "$work/$name.log"))"
  dom="$work/$name.dom"
  grep -q '<svg id="sequence"' "$dom" || fail "$name: the DOM has no sequence diagram (svg#sequence)"
  arrows=$(grep -o '<g class="m[ "]' "$dom" | wc -l)
  [ "$arrows" -gt 0 ] || fail "$name: the sequence diagram has no message arrow"
  grep -q '<table id="customer-view"' "$dom" || fail "$name: the DOM has no customer table (table#customer-view)"
  plots=$(grep -o '<svg class="balance-plot"' "$dom" | wc -l)
  [ "$plots" -gt 0 ] || fail "$name: the DOM has no balance plot (svg.balance-plot)"
  if grep -q ':CONSOLE' "$work/$name.log"; then
    grep ':CONSOLE' "$work/$name.log" >&2
    fail "$name: the page logged to the console"
  fi

  # The page's own script, clicked by the browser: the first customer row
  # with a transaction highlights every element of that transaction.
  # The page is self-contained, so a copy anywhere renders the same.
  probe="$work/$name.probe.html"
  sed 's|</body>|<script>var r=document.querySelector("#customer-view tr[data-k]");r.click();document.body.setAttribute("data-check",document.body.classList.contains("sel")+" "+document.querySelectorAll("#sequence .hl").length)</script></body>|' \
    "$page" >"$probe"
  run_browser --dump-dom "file://$probe" >"$work/$name.probe" 2>"$work/$name.probe.log" || true
  check=$(grep -o 'data-check="[^"]*"' "$work/$name.probe" || true)
  case "$check" in
    'data-check="true '[1-9]*) ;;
    *) fail "$name: clicking a customer row highlighted nothing in the diagram (${check:-no result})" ;;
  esac

  shot="$work/$name.png"
  run_browser --screenshot="$shot" --window-size=1400,2200 --hide-scrollbars "$url" \
    >/dev/null 2>"$work/$name.shot.log" || fail "$name: chromium --screenshot exited $?"
  [ -f "$shot" ] || fail "$name: no screenshot written"
  [ "$(head -c 8 "$shot" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "$name: the screenshot is not a PNG"
  size=$(wc -c <"$shot")
  [ "$size" -gt 20000 ] || fail "$name: the screenshot is only $size bytes (a blank page?)"
  echo "ok $name: $arrows arrows, $plots balance plots, highlight ${check#data-check=}, screenshot $size bytes"
done
echo "browser check passed: ${#names[@]} pages"
