"""edumon service core: config, Sample, pipeline, writer, spool, health, CLI."""
