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
from dashboards.limits import Limits

UID = SERVICE
WRITER = "\"collector\" = 'edumon' AND \"target\" = 'writer'"
POLLS = '"collector" =~ /^$collector$/ AND "collector" != \'edumon\''


def writer_series(
    title: str, select: str, unit: str, description: str, *, span: int = 12
) -> timeseries_panel.Panel:
    return timeseries(
        title,
        InfluxQL(
            f"""SELECT {select} FROM "collector" WHERE {WRITER} AND $timeFilter
            GROUP BY time($__interval) fill(none)"""
        ),
        description=description,
        unit=unit,
        interval=SELF_EVERY,
        span=span,
    )


def dashboard(limits: Limits) -> dash.Dashboard:
    return (
        new_dashboard(UID, "edumon / Service health", time_from="now-3h")
        .with_variable(tag_variable("collector", "Collector", "collector", include_all=True))
        .with_row(dash.Row("Writing to InfluxDB"))
        .with_panel(
            writer_series(
                "Samples written per second",
                'non_negative_derivative(max("samples_written"), 1s) AS "samples_per_s"',
                "none",
                "Samples edumon's writer stored in InfluxDB per second. It follows the "
                "fleet's size; a drop to 0 while collectors poll means writes fail.",
            )
        )
        .with_panel(
            writer_series(
                "Write latency (mean per report)",
                'mean("write_latency_ms") AS "mean"',
                "ms",
                "Mean time InfluxDB took to accept a batch (ms). Worry when it climbs to "
                "seconds: InfluxDB is overloaded and the spool will grow.",
            )
        )
        .with_panel(
            writer_series(
                "Spool size",
                'max("spool_bytes") AS "spool_bytes"',
                "bytes",
                "Bytes held on disk while InfluxDB cannot take them. Normally near 0; a "
                "growing spool is an InfluxDB outage edumon is riding out.",
                span=8,
            )
        )
        .with_panel(
            writer_series(
                "Points waiting (spool, pipeline queue)",
                'max("spool_points") AS "spool", max("queued_samples") AS "queue"',
                "none",
                "Points in the spool and samples queued in memory. Both should drain to near "
                "0 between polls; steady growth means the writer falls behind.",
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
                description="Samples refused as malformed in the range (dead letters). "
                "Orange from 1: a device or integration sends data edumon cannot read (see "
                "the log and the dead-letter file).",
                steps=thresholds((None, "green"), (1, "orange")),
                span=8,
                height=8,
            )
        )
        .with_row(dash.Row("Collectors"))
        .with_panel(
            timeseries(
                "Collector errors per interval",
                InfluxQL(
                    f"""SELECT sum("errors") FROM "collector" WHERE {POLLS} AND $timeFilter
                    GROUP BY time($__interval), "collector" fill(none)""",
                    alias="$tag_collector",
                ),
                description="Poll errors per collector per interval (timeouts, refused "
                "answers). Worry about a collector that errs on every round.",
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
                description="How long a collector's poll took, mean and max (ms). Worry when "
                "the max nears the collector's interval: polls will start to overlap.",
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
                description="Samples each polled collector produced per interval. A "
                "collector that drops to 0 has lost its devices.",
                unit="none",
                interval=SELF_EVERY,
                span=24,
            )
        )
        .with_row(dash.Row("LoRaWAN sensors"))
        .with_panel(
            sensor_radio(
                "LoRaWAN sensors: RSSI",
                "rssi",
                "dBm",
                "Signal strength the gateway heard each sensor at (dBm). Worry below about "
                "-115 dBm: frames will be lost.",
            )
        )
        .with_panel(
            sensor_radio(
                "LoRaWAN sensors: SNR",
                "snr",
                "dB",
                "Signal to noise ratio of each sensor's frames (dB). Worry below about "
                "-15 dB at SF12 (less at lower spreading factors).",
            )
        )
        .with_panel(
            table(
                "LoRaWAN sensors: frames lost",
                InfluxQL(
                    """SELECT last("frames_lost") AS "frames_lost", last("f_cnt") AS "f_cnt",
                      last("sf") AS "sf"
                    FROM "lorawan" WHERE $timeFilter GROUP BY "device", "gateway" """,
                    table=True,
                ),
                description="Per sensor and gateway: frames lost (gaps in the frame "
                "counter), the last frame counter and spreading factor. Worry about lost "
                "frames that keep growing or a sensor pushed to SF12.",
                span=24,
            )
        )
    )


def sensor_radio(title: str, field: str, unit: str, description: str) -> timeseries_panel.Panel:
    return timeseries(
        title,
        InfluxQL(
            f"""SELECT mean("{field}") FROM "lorawan" WHERE $timeFilter
            GROUP BY time($__interval), "device" fill(none)""",
            alias="$tag_device",
        ),
        description=description,
        unit=unit,
        interval=SENSOR_EVERY,
    )
