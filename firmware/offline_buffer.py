"""A bounded FIFO of messages produced while the broker is unreachable.

When full the oldest message is dropped and counted: the newest health says most about
the exhibit now, and RAM on a microcontroller is fixed.
"""


class OfflineBuffer:
    def __init__(self, capacity):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.dropped = 0
        self._items = []

    def __len__(self):
        return len(self._items)

    def push(self, item):
        """Append `item`; returns True when the oldest item was dropped to make room."""
        dropped = False
        if len(self._items) >= self.capacity:
            self._items.pop(0)
            self.dropped += 1
            dropped = True
        self._items.append(item)
        return dropped

    def peek(self):
        """The oldest item (IndexError when empty); stays until `pop`, so a failed replay
        keeps it."""
        return self._items[0]

    def pop(self):
        return self._items.pop(0)

    def items(self):
        return list(self._items)
