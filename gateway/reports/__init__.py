"""KPI and SLA reports with open-data export: `edumon kpi` (see README, "KPI and SLA reports")."""
