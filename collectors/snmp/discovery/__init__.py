"""Switch discovery on a slow cadence: LLDP/CDP neighbours, where inventory MACs are
(forwarding and ARP tables) and PoE, handed to the gateway as one `Discovery` per switch
(gateway/topology/observations.py) plus `poe` samples."""
