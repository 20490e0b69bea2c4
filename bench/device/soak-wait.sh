#!/usr/bin/env bash
# Keeps a device call alive while the soak daemon runs; copies its files to $OUT at the end.
DIR=$1; LIMIT=${2:-540}; t=0
while [ $t -lt "$LIMIT" ] && ! grep -q "soak: done" "$DIR/soak.log" 2>/dev/null; do sleep 10; t=$((t+10)); done
tail -n 4 "$DIR/soak-mem.csv"; grep "soak:" "$DIR/soak.log"; tail -c 600 "$DIR/soak.log" | tr '\r' '\n' | tail -3
cp "$DIR/soak-mem.csv" "$DIR/soak.log" "$OUT/" 2>/dev/null
run=$(ls -d "$DIR"/runs/*/ 2>/dev/null | head -1); [ -n "$run" ] && cp "$run/metrics.jsonl" "$run/events.jsonl" "$OUT/" 2>/dev/null
true
