"""Reachability probes (ICMP, ICMPv6, TCP SYN, DNS) with packets built by struct on shared raw
sockets; falls back to TCP connect timing without CAP_NET_RAW."""
