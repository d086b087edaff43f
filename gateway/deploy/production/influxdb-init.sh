#!/bin/bash
# Runs once, after the influxdb:2.7 image's first-start setup (org, bucket, admin token):
# a DBRP mapping so the v1 /write and InfluxQL find the bucket under the database name edumon
# writes to and Grafana queries, and v1 logins for both (edumon: read/write, Grafana: read).
set -euo pipefail

org="$DOCKER_INFLUXDB_INIT_ORG"
bucket_id="$(influx bucket list --org "$org" --name "$DOCKER_INFLUXDB_INIT_BUCKET" --hide-headers | cut -f1)"

influx v1 dbrp create --org "$org" --bucket-id "$bucket_id" \
  --db "$INFLUXDB_DATABASE" --rp autogen --default

influx v1 auth create --org "$org" --username "$INFLUXDB_EDUMON_USER" \
  --password "$INFLUXDB_EDUMON_PASSWORD" --write-bucket "$bucket_id" --read-bucket "$bucket_id"

influx v1 auth create --org "$org" --username "$INFLUXDB_GRAFANA_USER" \
  --password "$INFLUXDB_GRAFANA_PASSWORD" --read-bucket "$bucket_id"
