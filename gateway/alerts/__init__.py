"""Alert rules, their streaming evaluation, and Alertmanager."""
