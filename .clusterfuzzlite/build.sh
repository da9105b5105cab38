#!/bin/bash -eu
# Build every cargo-fuzz target with the sanitizer the infrastructure asks
# for ($SANITIZER, set by OSS-Fuzz/ClusterFuzzLite) and install them with
# their dictionaries under $OUT.
cd "$SRC/payfault"
cargo fuzz build -O
release=fuzz/target/x86_64-unknown-linux-gnu/release
for target in wire_decode wire_frames scenario_parse sim_schedule node_inputs; do
  cp "$release/$target" "$OUT/"
done
cp fuzz/dict/wire.dict "$OUT/wire_decode.dict"
cp fuzz/dict/wire.dict "$OUT/wire_frames.dict"
cp fuzz/dict/scenario.dict "$OUT/scenario_parse.dict"
(cd fuzz/seeds/wire_decode && zip -q "$OUT/wire_decode_seed_corpus.zip" ./*)
