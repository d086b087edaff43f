"""What each built-in alert means, in the report's languages: the incident table keeps the
alert's name (an identifier the on-call staff search for) and adds this summary. An alert of a
custom rules pack without an entry here is shown by its name alone."""

from __future__ import annotations

from gateway.reports.language import Language

ALERT_SUMMARY: dict[str, dict[Language, str]] = {
    "CoreSwitchUnreachable": {
        "en": "a school's core switch does not answer",
        "lv": "skolas galvenais komutators neatbild",
    },
    "SwitchUnreachable": {"en": "a switch does not answer", "lv": "komutators neatbild"},
    "UplinkDown": {
        "en": "a school's connection to the city network is down",
        "lv": "skolas pieslēgums pilsētas tīklam nedarbojas",
    },
    "UplinkSaturated": {"en": "the uplink is full", "lv": "pieslēgums ir pārslogots"},
    "InterfaceErrors": {"en": "errors on a port", "lv": "kļūdas portā"},
    "OpticalRxLow": {"en": "weak optical signal", "lv": "vājš optiskais signāls"},
    "TargetUnreachable": {"en": "a probe gets no answer", "lv": "pārbaude nesaņem atbildi"},
    "DeviceRebooted": {"en": "a device restarted", "lv": "iekārta pārstartējās"},
    "InterfaceLimitReached": {
        "en": "too many ports to watch",
        "lv": "pārāk daudz uzraugāmo portu",
    },
    "AccessPointDown": {
        "en": "a Wi-Fi access point is off",
        "lv": "Wi-Fi piekļuves punkts nedarbojas",
    },
    "ChannelUtilisationHigh": {"en": "a Wi-Fi channel is busy", "lv": "Wi-Fi kanāls ir noslogots"},
    "ExhibitOffline": {"en": "an exhibit is offline", "lv": "eksponāts nedarbojas"},
    "ExhibitErrors": {"en": "an exhibit reports errors", "lv": "eksponāts ziņo par kļūdām"},
    "ExhibitOverheating": {"en": "an exhibit is too hot", "lv": "eksponāts pārkarst"},
    "ClassroomCO2High": {"en": "too much CO₂ in a classroom", "lv": "klasē par daudz CO₂"},
    "SensorSilent": {"en": "a classroom sensor is silent", "lv": "klases sensors nesūta datus"},
    "SensorBatteryLow": {"en": "a sensor's battery is low", "lv": "sensora baterija izlādējas"},
    "CollectorStalled": {"en": "edumon stopped collecting", "lv": "edumon pārtrauca datu vākšanu"},
    "SpoolGrowing": {"en": "data waits to be stored", "lv": "dati gaida saglabāšanu"},
    "IntakeDown": {"en": "a data intake is down", "lv": "datu ievade nedarbojas"},
    "MqttSessionLost": {"en": "the MQTT session was lost", "lv": "zaudēts MQTT savienojums"},
    "CodecQuarantined": {"en": "a sensor decoder was stopped", "lv": "sensora dekoderis apturēts"},
    "ClusterDegraded": {"en": "an edumon instance is missing", "lv": "trūkst edumon instances"},
    "Watchdog": {"en": "the alerting pipeline's heartbeat", "lv": "brīdinājumu sistēmas pulss"},
    "StateDiskFull": {"en": "edumon's disk is filling", "lv": "edumon disks pildās"},
    "PoePortFault": {"en": "a PoE port fault", "lv": "PoE porta kļūme"},
    "PoePortFaultOther": {"en": "a PoE port fault", "lv": "PoE porta kļūme"},
    "PoeBudgetHigh": {"en": "PoE power almost used up", "lv": "PoE jauda gandrīz izlietota"},
}


def alert_label(alertname: str, language: Language) -> str:
    summary = ALERT_SUMMARY.get(alertname, {}).get(language)
    return f"{alertname}: {summary}" if summary else alertname
