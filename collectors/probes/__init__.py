"""Reachability probes (ICMP, ICMPv6, TCP SYN, DNS) with scapy-crafted packets on shared raw
sockets; falls back to TCP connect timing without CAP_NET_RAW."""
