#!/usr/bin/env bash
# Build every fuzz target and run each for a short, fixed time on the correct
# system; fail when any target finds a crash. Usage:
#   tools/fuzz-smoke.sh [SECONDS_PER_TARGET]   (default 20)
# Needs the nightly toolchain; installs cargo-fuzz when it is missing.
# Built with `-s none`: the harness is safe Rust, so AddressSanitizer finds
# nothing the panics do not, and makes the simulation targets about six
# times slower (sim_schedule: 3 against 18 executions/s).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz-smoke: the nightly toolchain is not installed (cargo-fuzz needs it): rustup toolchain install nightly" >&2
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

cargo +nightly fuzz build -O -s none
bin=fuzz/target/x86_64-unknown-linux-gnu/release
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Seed corpora: real wire messages, the scenario library, exploration seeds.
cargo run --release --locked --quiet -- fuzz-corpus --seeds 50 --out "$work/seeds" >/dev/null

failed=()
for target in wire_decode wire_frames scenario_parse sim_schedule node_inputs; do
  corpus="$work/corpus/$target"
  mkdir -p "$corpus"
  args=()
  case "$target" in
    wire_*) args+=("-dict=fuzz/dict/wire.dict"); cp fuzz/seeds/wire_decode/* "$corpus/" ;;
    scenario_parse) args+=("-dict=fuzz/dict/scenario.dict"); cp "$work/seeds/scenario_parse/"* "$corpus/" ;;
    sim_schedule) cp "$work/seeds/sim_schedule/"* "$corpus/" ;;
  esac
  echo "--- $target: ${seconds}s"
  if "$bin/$target" "$corpus" "${args[@]}" -seed=1 -max_total_time="$seconds" \
      -artifact_prefix="$work/$target-" >"$work/$target.log" 2>&1; then
    grep -E '^#[0-9]+' "$work/$target.log" | tail -1 || true
  else
    failed+=("$target")
    tail -40 "$work/$target.log"
    for artifact in "$work/$target-"*; do
      [ -e "$artifact" ] || continue
      mkdir -p fuzz/artifacts/"$target"
      cp "$artifact" fuzz/artifacts/"$target"/
      echo "crash input kept: fuzz/artifacts/$target/$(basename "$artifact")"
    done
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz-smoke: crashes in: ${failed[*]} (sim_schedule inputs: payfault from-fuzz FILE)" >&2
  exit 1
fi
echo "fuzz-smoke: every target ran ${seconds}s without a crash"
