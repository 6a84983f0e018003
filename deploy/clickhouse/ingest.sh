#!/bin/sh
# Loads helloscope jsonl files into helloscope.flows as they are: no reshaping step.
#   deploy/clickhouse/ingest.sh flows-gw1.jsonl flows-gw2.jsonl
#   helloscope sniff -i eth0 --policy procore | deploy/clickhouse/ingest.sh -
# The server and credentials come from clickhouse-client's usual options or its config file
# (CLICKHOUSE_CLIENT="clickhouse-client --host ch.example --secure" to override).
set -eu
client=${CLICKHOUSE_CLIENT:-clickhouse-client}
insert="INSERT INTO helloscope.flows
SETTINGS date_time_input_format = 'best_effort', input_format_skip_unknown_fields = 1
FORMAT JSONEachRow"
[ $# -gt 0 ] || set -- -
for f in "$@"; do
  if [ "$f" = - ]; then
    $client --query "$insert"
  else
    $client --query "$insert" < "$f"
  fi
done
