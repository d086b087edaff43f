"""Several edumon instances sharing one city: membership through etcd leases, polled targets
assigned by rendezvous hashing over the live members, each instance polling only its own.
No consensus of our own: etcd decides who is alive (see gateway/cluster/membership.py)."""
