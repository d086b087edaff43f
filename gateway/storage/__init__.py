"""Storage: line protocol, the durable spool, the writer and the HTTP boundary to the database."""
