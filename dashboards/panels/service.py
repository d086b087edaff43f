"""edumon's own health, from its `collector` self-metrics: the writer's counters (collector
`edumon`, target `writer`) and one point per poll of every polled collector and target; and
the LoRaWAN sensors' radio (the `lorawan` measurement has no site: one network for the city)."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import timeseries as timeseries_panel

from dashboards.common import (
    SELF_EVERY,
    SENSOR_EVERY,
    SERVICE,
    InfluxQL,
    new_dashboard,
    stat,
    table,
    tag_variable,
    thresholds,
    timeseries,
)

UID = SERVICE
WRITER = "\"collector\" = 'edumon' AND \"target\" = 'writer'"
POLLS = '"collector" =~ /^$collector$/ AND "collector" != \'edumon\''


def writer_series(title: str, select: str, unit: str, *, span: int = 12) -> timeseries_panel.Panel:
    return timeseries(
        title,
        InfluxQL(
            f"""SELECT {select} FROM "collector" WHERE {WRITER} AND $timeFilter
            GROUP BY time($__interval) fill(none)"""
        ),
        unit=unit,
        interval=SELF_EVERY,
        span=span,
    )


def dashboard() -> dash.Dashboard:
    return (
        new_dashboard(UID, "edumon / Service health", time_from="now-3h")
        .with_variable(tag_variable("collector", "Collector", "collector", include_all=True))
        .with_panel(
            writer_series(
                "Samples written per second",
                'non_negative_derivative(max("samples_written"), 1s) AS "samples_per_s"',
                "none",
            )
        )
        .with_panel(
            writer_series(
                "Write latency (mean per report)", 'mean("write_latency_ms") AS "mean"', "ms"
            )
        )
        .with_panel(
            writer_series("Spool size", 'max("spool_bytes") AS "spool_bytes"', "bytes", span=8)
        )
        .with_panel(
            writer_series(
                "Points waiting (spool, pipeline queue)",
                'max("spool_points") AS "spool", max("queued_samples") AS "queue"',
                "none",
                span=8,
            )
        )
        .with_panel(
            stat(
                "New dead letters in the range",
                InfluxQL(
                    f"""SELECT spread("dead_letters") FROM "collector"
                    WHERE {WRITER} AND $timeFilter"""
                ),
                steps=thresholds((None, "green"), (1, "orange")),
                span=8,
                height=8,
            )
        )
        .with_panel(
            timeseries(
                "Collector errors per interval",
                InfluxQL(
                    f"""SELECT sum("errors") FROM "collector" WHERE {POLLS} AND $timeFilter
                    GROUP BY time($__interval), "collector" fill(none)""",
                    alias="$tag_collector",
                ),
                unit="none",
                interval=SELF_EVERY,
            )
        )
        .with_panel(
            timeseries(
                "Poll duration",
                InfluxQL(
                    f"""SELECT mean("duration_ms") AS "mean", max("duration_ms") AS "max"
                    FROM "collector" WHERE {POLLS} AND $timeFilter
                    GROUP BY time($__interval), "collector" fill(none)""",
                    alias="$tag_collector $col",
                ),
                unit="ms",
                interval=SELF_EVERY,
            )
        )
        .with_panel(
            timeseries(
                "Samples per interval by collector (polled collectors)",
                InfluxQL(
                    f"""SELECT sum("samples") FROM "collector" WHERE {POLLS} AND $timeFilter
                    GROUP BY time($__interval), "collector" fill(none)""",
                    alias="$tag_collector",
                ),
                unit="none",
                interval=SELF_EVERY,
                span=24,
            )
        )
        .with_panel(sensor_radio("LoRaWAN sensors: RSSI", "rssi", "dBm"))
        .with_panel(sensor_radio("LoRaWAN sensors: SNR", "snr", "dB"))
        .with_panel(
            table(
                "LoRaWAN sensors: frames lost",
                InfluxQL(
                    """SELECT last("frames_lost") AS "frames_lost", last("f_cnt") AS "f_cnt",
                      last("sf") AS "sf"
                    FROM "lorawan" WHERE $timeFilter GROUP BY "device", "gateway" """,
                    table=True,
                ),
                span=24,
            )
        )
    )


def sensor_radio(title: str, field: str, unit: str) -> timeseries_panel.Panel:
    return timeseries(
        title,
        InfluxQL(
            f"""SELECT mean("{field}") FROM "lorawan" WHERE $timeFilter
            GROUP BY time($__interval), "device" fill(none)""",
            alias="$tag_device",
        ),
        unit=unit,
        interval=SENSOR_EVERY,
    )
