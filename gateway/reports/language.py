"""The report's words in English and Latvian (`reports.language`): headings, notes, chart
labels, column names and each KPI's name and plain-words definition. The open-data files keep
English ids; their metadata carries both languages."""

from __future__ import annotations

from typing import Literal

Language = Literal["en", "lv"]

TEXT: dict[str, dict[Language, str]] = {
    "period": {"en": "{start} to {end} ({zone}).", "lv": "No {start} līdz {end} ({zone})."},
    "unknown_note": {
        "en": "Time without data (edumon or a source was not reporting) counts neither as up nor "
        "as down.",
        "lv": "Laiks bez datiem (edumon vai datu avots neziņoja) netiek skaitīts ne kā darbības, "
        "ne kā dīkstāves laiks.",
    },
    "availability": {"en": "Uplink availability", "lv": "Pieslēguma pieejamība"},
    "timeline": {"en": "Uplink state over the period", "lv": "Pieslēguma stāvoklis periodā"},
    "utilisation": {"en": "Uplink utilisation", "lv": "Pieslēguma noslodze"},
    "all_kpis": {"en": "All KPIs", "lv": "Visi rādītāji"},
    "incidents": {"en": "Incidents", "lv": "Incidenti"},
    "no_incidents": {"en": "No incidents in this period.", "lv": "Šajā periodā incidentu nav."},
    "definitions": {"en": "Definitions", "lv": "Definīcijas"},
    "table": {"en": "The chart's figures as a table", "lv": "Diagrammas dati tabulā"},
    "site": {"en": "School or site", "lv": "Skola vai objekts"},
    "city": {"en": "City-wide", "lv": "Visa pilsēta"},
    "selected": {"en": "Selected sites", "lv": "Izvēlētie objekti"},
    "down_h": {"en": "down", "lv": "nedarbojās"},
    "unknown_h": {"en": "unknown", "lv": "nav zināms"},
    "availability_axis": {
        "en": "uplink availability, % of known time",
        "lv": "pieslēguma pieejamība, % no zināmā laika",
    },
    "days_axis": {"en": "days into the period", "lv": "perioda diena"},
    "util_axis": {"en": "uplink utilisation, %", "lv": "pieslēguma noslodze, %"},
    "up": {"en": "up", "lv": "darbojas"},
    "down": {"en": "down", "lv": "nedarbojas"},
    "unknown": {"en": "unknown", "lv": "nav zināms"},
    "not counted": {"en": "not counted (holidays)", "lv": "neskaita (brīvdienas)"},
    "p95": {"en": "95th percentile", "lv": "95. procentile"},
    "max": {"en": "highest", "lv": "augstākā"},
    "alert": {"en": "alert", "lv": "trauksmes signāls"},
    "severity": {"en": "severity", "lv": "nopietnība"},
    "device": {"en": "device", "lv": "iekārta"},
    "started": {"en": "started", "lv": "sākās"},
    "recovered_in": {"en": "time to recover", "lv": "atjaunošanas laiks"},
    "open": {"en": "still open", "lv": "vēl aktīvs"},
    "alt_availability": {
        "en": "Dot plot of uplink availability per school, from {low} to 100 %: {summary}.",
        "lv": "Punktu diagramma: pieslēguma pieejamība katrā skolā, no {low} līdz 100 %: "
        "{summary}.",
    },
    "alt_timeline": {
        "en": "Timeline of each school's uplink over the period (up, down, unknown, not "
        "counted); down or unknown time: {summary}.",
        "lv": "Katras skolas pieslēguma laika josla periodā (darbojas, nedarbojas, nav zināms, "
        "neskaita); dīkstāve vai nezināms laiks: {summary}.",
    },
    "alt_utilisation": {
        "en": "Bar chart of uplink utilisation per school, from 0 to 100 % (95th percentile "
        "and highest): {summary}.",
        "lv": "Joslu diagramma: pieslēguma noslodze katrā skolā, no 0 līdz 100 % "
        "(95. procentile un augstākā): {summary}.",
    },
    "headline": {"en": "At a glance", "lv": "Īsumā"},
    "worst_school": {"en": "Least available school", "lv": "Skola ar zemāko pieejamību"},
    "pages": {"en": "Network pages", "lv": "Tīkla trauksmes"},
    "pages_note": {
        "en": "{open} still open; mean time to recover {mttr}",
        "lv": "{open} vēl aktīvas; vidējais atjaunošanas laiks {mttr}",
    },
    "by_severity": {"en": "Incidents by severity", "lv": "Incidenti pēc nopietnības"},
    "count": {"en": "incidents", "lv": "incidenti"},
    "page": {"en": "page (network, on call)", "lv": "tīkla trauksme (dežurants)"},
    "warning": {"en": "warning", "lv": "brīdinājums"},
    "info": {"en": "information", "lv": "informācija"},
    "zoom_note": {
        "en": "The axis starts at {low} %, not 0, to show small differences.",
        "lv": "Ass sākas pie {low} %, nevis 0, lai būtu redzamas mazas atšķirības.",
    },
    "none": {"en": "none", "lv": "nav"},
}

# (name, definition) per KPI id, in plain words
KPI_TEXT: dict[str, dict[Language, tuple[str, str]]] = {
    "uplink_availability_pct": {
        "en": (
            "Uplink availability",
            "How much of the school days the school's connection to the city network worked.",
        ),
        "lv": (
            "Pieslēguma pieejamība",
            "Cik lielu daļu mācību dienu darbojās skolas pieslēgums pilsētas tīklam.",
        ),
    },
    "p95_uplink_util_pct": {
        "en": (
            "Uplink use (95th percentile)",
            "How busy the connection was: 95 % of the time it was at most this busy.",
        ),
        "lv": (
            "Pieslēguma noslodze (95. procentile)",
            "Cik noslogots bija pieslēgums: 95 % laika noslodze nepārsniedza šo vērtību.",
        ),
    },
    "max_uplink_util_pct": {
        "en": ("Uplink use (highest)", "The busiest moment of the connection."),
        "lv": ("Pieslēguma noslodze (augstākā)", "Pieslēguma noslogotākais brīdis."),
    },
    "uplink_capacity_mbps": {
        "en": ("Uplink capacity", "The speed of the school's connection."),
        "lv": ("Pieslēguma ātrums", "Skolas pieslēguma ātrums."),
    },
    "schools_on_10g_pct": {
        "en": ("Schools on 10 Gbit/s", "Share of schools connected at 10 Gbit/s or faster."),
        "lv": ("Skolas ar 10 Gbit/s", "Skolu daļa, kuru pieslēgums ir 10 Gbit/s vai ātrāks."),
    },
    "healthy_wifi_classrooms_pct": {
        "en": (
            "Classrooms with healthy Wi-Fi",
            "Share of classrooms whose Wi-Fi was not overloaded, not disturbed and switched on "
            "in at least 95 of every 100 hours (hourly averages: channel busy at most 70 %, at "
            "most 15 % of data resent, little radio noise).",
        ),
        "lv": (
            "Klases ar labu Wi-Fi",
            "Klašu daļa, kurās Wi-Fi nebija pārslogots, netika traucēts un bija ieslēgts "
            "vismaz 95 no katrām 100 stundām (stundas vidējie: kanāls aizņemts ne vairāk kā "
            "70 %, atkārtoti sūtīti ne vairāk kā 15 % datu, maz radio trokšņu).",
        ),
    },
    "ipv6_reachability_pct": {
        "en": ("IPv6 reachability", "How much of the time the school could be reached over IPv6."),
        "lv": ("IPv6 sasniedzamība", "Cik lielu daļu laika skola bija sasniedzama ar IPv6."),
    },
    "exhibit_availability_pct": {
        "en": (
            "Exhibits working",
            "How much of the opening hours the science centre's exhibits worked.",
        ),
        "lv": (
            "Eksponātu darbība",
            "Cik lielu daļu darba laika zinātnes centra eksponāti darbojās.",
        ),
    },
    "sensor_completeness_pct": {
        "en": (
            "Classroom sensor data received",
            "Share of the expected classroom air measurements that arrived.",
        ),
        "lv": (
            "Saņemtie klašu sensoru dati",
            "Saņemtā daļa no gaidītajiem klašu gaisa mērījumiem.",
        ),
    },
    "incidents": {
        "en": (
            "Network pages",
            "Network faults that paged the on-call staff; one school outage counts once.",
        ),
        "lv": (
            "Tīkla trauksmes",
            "Tīkla bojājumi, par kuriem tika izsaukts dežurants; viens skolas pārtraukums "
            "skaitās vienreiz.",
        ),
    },
    "open_incidents": {
        "en": ("Open pages", "Of those, not yet resolved at the end of the period."),
        "lv": ("Neatrisinātās trauksmes", "No tām vēl neatrisinātas perioda beigās."),
    },
    "mean_time_to_recover_min": {
        "en": ("Mean time to recover", "How long it took on average to fix a paged fault."),
        "lv": (
            "Vidējais atjaunošanas laiks",
            "Cik ilgā laikā vidēji tika novērsts bojājums, par kuru tika izsaukts dežurants.",
        ),
    },
}


def text(key: str, language: Language, **values: object) -> str:
    return TEXT[key][language].format(**values)


def kpi_name(kpi: str, language: Language) -> str:
    return KPI_TEXT[kpi][language][0]


def kpi_definition(kpi: str, language: Language) -> str:
    return KPI_TEXT[kpi][language][1]
